package modelopt

import (
	"encoding/json"
	"testing"
)

// TestCloneAndJSONValue: Clone's copy shares nothing with the original and
// keeps its key types; JSONValue's copy is what encoding/json takes, with
// non-string keys (block_sizes' -1) written as strings.
func TestCloneAndJSONValue(t *testing.T) {
	orig := func() map[string]any {
		return map[string]any{
			"num_bits":    []any{4, 3},
			"block_sizes": map[any]any{-1: 128, "type": "dynamic", "scale_bits": []any{4, 3}},
			"enable":      true,
		}
	}
	v := orig()
	c := Clone(v).(map[string]any)
	c["num_bits"].([]any)[0] = 8
	c["block_sizes"].(map[any]any)[-1] = 16
	if !Equal(v, orig()) {
		t.Errorf("changing the clone changed the original: %v", v)
	}
	if _, ok := c["block_sizes"].(map[any]any)[-1]; !ok {
		t.Errorf("clone lost the int key: %v", c["block_sizes"])
	}

	b, err := json.Marshal(JSONValue(v))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"block_sizes":{"-1":128,"scale_bits":[4,3],"type":"dynamic"},"enable":true,"num_bits":[4,3]}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
	if _, err := json.Marshal(v); err == nil {
		t.Error("encoding/json took an int-keyed map: the test shows nothing")
	}
}
