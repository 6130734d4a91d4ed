package modelopt

// Test-only access to the YAML fast path and to yaml.v3's own encoding, for
// the differential tests in emit_test.go.
var (
	EmitYAML    = emitYAML
	MarshalYAML = marshalYAML
	RecipeDoc   = recipeDoc
)
