package report

import (
	"fmt"
	"math"
	"strings"
)

// RGB is a colour in sRGB, each channel 0–255.
type RGB struct{ R, G, B uint8 }

// Hex is the colour as CSS writes it: #rrggbb.
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// viridis is matplotlib's viridis at 9 evenly spaced points: perceptually
// uniform, monotonic in lightness, readable with the common colour-vision
// deficiencies and in greyscale.
var viridis = []RGB{
	{0x44, 0x01, 0x54}, {0x47, 0x2c, 0x7a}, {0x3b, 0x51, 0x8b}, {0x2c, 0x71, 0x8e},
	{0x21, 0x90, 0x8d}, {0x27, 0xad, 0x81}, {0x5c, 0xc8, 0x63}, {0xaa, 0xdc, 0x32},
	{0xfd, 0xe7, 0x25},
}

// Scale is the colour at t in [0, 1] (clamped): 0 the dark end (worst),
// 1 the light end (best), interpolated linearly between the stops.
func Scale(t float64) RGB {
	if math.IsNaN(t) || t < 0 {
		t = 0
	}
	if t > 1 {
		t = 1
	}
	pos := t * float64(len(viridis)-1)
	i := int(pos)
	if i >= len(viridis)-1 {
		return viridis[len(viridis)-1]
	}
	f := pos - float64(i)
	a, b := viridis[i], viridis[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return RGB{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B)}
}

// Luminance is the colour's relative luminance (WCAG 2), 0 black to 1
// white.
func (c RGB) Luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Contrast is the WCAG contrast ratio of two colours, 1 to 21.
func Contrast(a, b RGB) float64 {
	la, lb := a.Luminance(), b.Luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

var (
	black = RGB{0, 0, 0}
	white = RGB{0xff, 0xff, 0xff}
)

// TextOn is the text colour (black or white) with the higher contrast on
// the background bg.
func TextOn(bg RGB) RGB {
	if Contrast(bg, black) >= Contrast(bg, white) {
		return black
	}
	return white
}

// Gradient is the scale as a CSS linear-gradient from worst (left) to best.
func Gradient() string {
	stops := make([]string, len(viridis))
	for i, c := range viridis {
		stops[i] = c.Hex()
	}
	return "linear-gradient(to right, " + strings.Join(stops, ", ") + ")"
}
