"""A small Hydra 1.3 app for qrun's launch-line test (hydra_app_test.go).

It selects the config groups qrun plans (quant_pair, quant_granularity,
quant_kv_cache; their option files are what `qrun vocab export` writes into
conf/), and writes what the job actually ran with to job.json in its own
output directory (hydra.run.dir): the model, the selected options' names,
the seed, and the directory.
"""
import json
import os

import hydra
from hydra.core.hydra_config import HydraConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    out_dir = HydraConfig.get().runtime.output_dir
    job = {
        "model": cfg.model,
        "format": cfg.quant_pair.format_name,
        "granularity": cfg.quant_granularity.name,
        "kv_cache": cfg.quant_kv_cache.name,
        "seed": cfg.seed,
        "dir": out_dir,
    }
    with open(os.path.join(out_dir, "job.json"), "w") as f:
        json.dump(job, f)


if __name__ == "__main__":
    main()
