#!/usr/bin/env python3
"""The Python glue a team would otherwise write instead of qrun plan:
PyYAML for the recipe and manifest, sqlite3 for the registry, one
transaction, the same sweep (formats x granularities x seeds). No name
checks, no validation. bench/run.sh times it beside qrun and the floor.

    glue.py ROOT DB FORMATS GRANULARITIES SEEDS
"""
import hashlib
import os
import sqlite3
import sys
import time

import yaml

root, db, nf, ng, ns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.executescript("""
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, model TEXT, format TEXT, granularity TEXT,
  params TEXT, dir TEXT UNIQUE, config_fp TEXT, status TEXT, created_at INTEGER);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, run_id TEXT, kind TEXT, payload TEXT, at INTEGER);
""")
con.execute("BEGIN IMMEDIATE")
tail = [{"quantizer_name": p, "enable": False} for p in
        ["*lm_head*", "*router*", "*mlp.gate.*", "*proj_out.*", "*output_layer*", "output.*"]]
now = time.time_ns()
for f in range(nf):
    for g in range(ng):
        fmt, gran = f"fmt{f}", f"gran{g}"
        cfg = {"quant_cfg": [{"quantizer_name": "*", "enable": False},
                             {"quantizer_name": "*weight_quantizer", "cfg": {"num_bits": 4, "block_sizes": {-1: 128, "type": "static"}}},
                             {"quantizer_name": "*input_quantizer", "cfg": {"num_bits": 8, "axis": None}}] + tail,
               "algorithm": "max"}
        recipe = yaml.safe_dump({"metadata": {"recipe_type": "ptq"}, "quantize": cfg}, sort_keys=False)
        for s in range(ns):
            rid = hashlib.sha256(f"{fmt}{gran}{s}".encode()).hexdigest()[:12]
            d = os.path.join(root, "Qwen3-8B", fmt, gran, f"seed={s}")
            os.makedirs(d, exist_ok=True)
            manifest = yaml.safe_dump({"qrun_manifest": 1, "run_id": rid, "model": "Qwen/Qwen3-8B",
                                       "format": {"name": fmt}, "granularity": {"name": gran},
                                       "params": {"seed": s}, "hydra": {"overrides": [f"hydra.run.dir='{d}'"]}},
                                      sort_keys=False)
            for name, text in (("modelopt_recipe.yaml", recipe), ("manifest.yaml", manifest)):
                tmp = os.path.join(d, "." + name + ".tmp")
                with open(tmp, "w") as fh:
                    fh.write(text)
                os.replace(tmp, os.path.join(d, name))
            con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                        (rid, "Qwen/Qwen3-8B", fmt, gran, f'{{"seed":{s}}}', d, "x", "planned", now))
            con.execute("INSERT INTO events (run_id, kind, payload, at) VALUES (?,?,?,?)", (rid, "plan", "{}", now))
os.sync()
con.execute("COMMIT")
