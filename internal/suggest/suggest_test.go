package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"w_group64", "w_group128", "w_per_tensor", "default"}
	for in, want := range map[string]string{"w_grup64": "w_group64", "w_gruop128": "w_group128", "defualt": "default", "zzz": "", "w_group64": "w_group64"} {
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
