package kver

import "testing"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"6.18.44-fc-v657", 6, 18, true},
		{"5.4.0-150-generic", 5, 4, true},
		{"6.8rc1", 6, 8, true},
		{"5.10", 5, 10, true},
		{"unknown", 0, 0, false},
		{"x.y.z", 0, 0, false},
		{"6.", 0, 0, false},
	} {
		ma, mi, ok := Parse(c.in)
		if ma != c.major || mi != c.minor || ok != c.ok {
			t.Errorf("Parse(%q) = %d, %d, %v; want %d, %d, %v", c.in, ma, mi, ok, c.major, c.minor, c.ok)
		}
	}
	if _, _, ok := Version(); !ok {
		t.Errorf("the running kernel's release %q does not parse", Release())
	}
	ma, mi, _ := Version()
	if !AtLeast(ma, mi, false) || AtLeast(ma, mi+1, false) || !AtLeast(ma-1, 99, false) {
		t.Errorf("AtLeast around the running %d.%d is wrong", ma, mi)
	}
}
