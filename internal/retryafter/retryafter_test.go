package retryafter

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"7":   7 * time.Second,
		" 7 ": 7 * time.Second,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
		"":     0,
		"0":    0,
		"-3":   0,
		"soon": 0,
	} {
		assert.Equal(t, want, Parse(v, now), "%q", v)
	}
}
