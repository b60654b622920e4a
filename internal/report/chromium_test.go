//go:build chromium

package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHTMLInChromium opens the HTML report in headless Chromium with every
// host name unresolvable, and checks from the screenshot that the charts
// were drawn: the bars' first two palette colours are on the page. .ci/run
// installs Chromium (Debian package chromium) and runs it:
//
//	go test -tags chromium ./internal/report -run Chromium
func TestHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "install the Debian package chromium")
	dir := t.TempDir()
	page, shot := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.png")
	src := transcripts(t, loadTestConfig(t, ""), realGlobs)
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, run(t, src, Query{By: []string{KeyTicket, KeyModel}, Unattributed: "unattributed"}), "html"))
	require.NoError(t, os.WriteFile(page, buf.Bytes(), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=1400,1400", "--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	fh, err := os.Open(shot)
	require.NoError(t, err)
	defer fh.Close()
	img, err := png.Decode(fh)
	require.NoError(t, err)
	found := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			found[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	for _, c := range [][3]uint32{{0x4e, 0x79, 0xa7}, {0xf2, 0x8e, 0x2b}} {
		assert.True(t, found[c], "colour %02x%02x%02x not on the screenshot", c[0], c[1], c[2])
	}
	if d := os.Getenv("REPORT_SCREENSHOT_DIR"); d != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(filepath.Join(d, "report.png"), b, 0o644)
	}
}
