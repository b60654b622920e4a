package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const receiverDir = "../../../receiver/copilotreceiver"

// TestGeneratedIsCurrent: the committed names and README table are what
// the receiver's metadata.yaml and histograms.yaml make (`go generate
// ./receiver/...` refreshes them; CI checks the same).
func TestGeneratedIsCurrent(t *testing.T) {
	md, err := load(filepath.Join(receiverDir, "metadata.yaml"), filepath.Join(receiverDir, "histograms.yaml"))
	require.NoError(t, err)
	src, err := goFile(md)
	require.NoError(t, err)
	committed, err := os.ReadFile("../generated_names.go")
	require.NoError(t, err)
	assert.Equal(t, string(committed), string(src), "run go generate ./receiver/copilotreceiver")

	readme, err := os.ReadFile(filepath.Join(receiverDir, "README.md"))
	require.NoError(t, err)
	again, err := withHistogramTable(readme, md)
	require.NoError(t, err)
	assert.Equal(t, string(readme), string(again), "run go generate ./receiver/copilotreceiver")
}

func TestIdent(t *testing.T) {
	for name, want := range map[string]string{
		"gen_ai.request.model":      "GenAIRequestModel",
		"copilot.usage.nano_aiu":    "CopilotUsageNanoAIU",
		"vcs.repository.url.full":   "VCSRepositoryURLFull",
		"session.id":                "SessionID",
		"http.response.status_code": "HTTPResponseStatusCode",
	} {
		assert.Equal(t, want, ident("", name), name)
	}
}

// TestRefuses: a histogram may only use declared attributes, and two names
// must not make one identifier.
func TestRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n"), 0o644))
	md := write("metadata.yaml", "attributes:\n  a.b:\n    description: x\nmetrics:\n  m.one:\n    description: x\n    unit: s\n    attributes: [a.b]\n  m_one:\n    description: y\n    unit: s\n")
	hist := write("histograms.yaml", "histograms:\n  h.one:\n    description: x\n    unit: s\n    attributes: [a.b, c.d]\n")
	_, err := load(md, hist)
	assert.ErrorContains(t, err, "histogram h.one: attribute c.d is not in the attributes of")

	hist = write("histograms.yaml", "histograms: {}\n")
	m, err := load(md, hist)
	require.NoError(t, err)
	assert.Equal(t, "example.com/x", m.Scope)
	_, err = goFile(m)
	assert.ErrorContains(t, err, "m.one and m_one would both be MetricMOne")
}
