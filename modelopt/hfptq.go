package modelopt

import "slices"

// hfPTQQFormats are the 34 canonical --qformat names of hf_ptq at ModelOpt
// 0.46.0: one per preset file under modelopt_recipes/configs/ptq/presets/model
// (modelopt/recipe/presets.py:57, 104-127).
var hfPTQQFormats = []string{
	"fp8", "fp8_2d_blockwise_weight_only", "fp8_per_channel_per_token",
	"int4_awq", "int4_blockwise_weight_only", "int8", "int8_smoothquant", "int8_weight_only",
	"mamba_moe_fp8_aggressive", "mamba_moe_fp8_conservative", "mamba_moe_nvfp4_aggressive",
	"mamba_moe_nvfp4_conservative", "mxfp4", "mxfp4_mlp_weight_only", "mxfp6", "mxfp8", "mxint8", "nvfp4",
	"nvfp4_awq_clip", "nvfp4_awq_full", "nvfp4_awq_lite", "nvfp4_experts_only", "nvfp4_four_over_six",
	"nvfp4_fp8_mha", "nvfp4_mlp_only", "nvfp4_mlp_weight_only", "nvfp4_omlp_only", "nvfp4_svdquant",
	"nvfp4_w4a4_weight_local_hessian", "nvfp4_w4a4_weight_mse_fp8_sweep", "w4a16_nvfp4", "w4a8_awq_beta",
	"w4a8_mxfp4_fp8", "w4a8_nvfp4_fp8",
}

// hfPTQAliases are hf_ptq's 8 backward-compatible --qformat names at 0.46.0
// (presets.py:71-80), each to its canonical name. Before 0.45 the short
// names were hf_ptq's own (SPEC §1.2).
var hfPTQAliases = map[string]string{
	"int8_sq": "int8_smoothquant", "int8_wo": "int8_weight_only", "w4a8_awq": "w4a8_awq_beta",
	"nvfp4_awq": "nvfp4_awq_lite", "nvfp4_mse": "nvfp4_w4a4_weight_mse_fp8_sweep",
	"nvfp4_local_hessian": "nvfp4_w4a4_weight_local_hessian",
	"fp8_pb_wo":           "fp8_2d_blockwise_weight_only", "fp8_pc_pt": "fp8_per_channel_per_token",
}

// HFPTQQFormats are hf_ptq's canonical --qformat names at ModelOpt 0.46,
// sorted, and its aliases, each to its canonical name.
func HFPTQQFormats() ([]string, map[string]string) {
	aliases := make(map[string]string, len(hfPTQAliases))
	for k, v := range hfPTQAliases {
		aliases[k] = v
	}
	return slices.Clone(hfPTQQFormats), aliases
}

// hfPTQ044 are hf_ptq's --qformat names at ModelOpt 0.43 and 0.44, each to
// the preset's canonical name (examples/llm_ptq/hf_ptq.py:92-112 at
// 0.43.0, 101-121 at 0.44.0: a dict of its own, before the preset files).
var hfPTQ044 = map[string]string{
	"int8": "int8", "int8_sq": "int8_smoothquant", "int8_wo": "int8_weight_only", "fp8": "fp8",
	"int4_awq": "int4_awq", "w4a8_awq": "w4a8_awq_beta", "nvfp4": "nvfp4", "nvfp4_awq": "nvfp4_awq_lite",
	"nvfp4_mse": "nvfp4_w4a4_weight_mse_fp8_sweep", "fp8_pb_wo": "fp8_2d_blockwise_weight_only",
	"fp8_pc_pt": "fp8_per_channel_per_token", "w4a8_nvfp4_fp8": "w4a8_nvfp4_fp8", "w4a8_mxfp4_fp8": "w4a8_mxfp4_fp8",
	"nvfp4_mlp_only": "nvfp4_mlp_only", "nvfp4_experts_only": "nvfp4_experts_only", "nvfp4_omlp_only": "nvfp4_omlp_only",
	"nvfp4_svdquant": "nvfp4_svdquant", "mxfp8": "mxfp8", "nvfp4_local_hessian": "nvfp4_w4a4_weight_local_hessian",
}

// QFormat is the hf_ptq --qformat name, at the target, of the ModelOpt
// preset called name (a canonical name or an alias): at 0.45 and 0.46 the
// preset file's name (0.45 has no nvfp4_four_over_six), before that the
// name of hf_ptq's own table; "" when that hf_ptq has no such preset.
func QFormat(name string, target Version) string {
	if c, ok := hfPTQAliases[name]; ok {
		name = c
	}
	if target.Less(Version{0, 45}) {
		for old, c := range hfPTQ044 {
			if c == name {
				return old
			}
		}
		return ""
	}
	if _, found := slices.BinarySearch(hfPTQQFormats, name); !found || (target == Version{0, 45} && name == "nvfp4_four_over_six") {
		return ""
	}
	return name
}
