package copilotreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestProgressIntervalConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.SessionState.Include = []string{"/home/dev/.copilot/session-state/*/events.jsonl"}
	assert.Equal(t, 5*time.Second, cfg.SessionState.ProgressInterval)
	cfg.SessionState.ProgressInterval = 0
	assert.NoError(t, cfg.Validate(), "0 turns progress lines off")
	cfg.SessionState.ProgressInterval = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "session_state::progress_interval: -1s must not be negative")
}

func TestIncludeNote(t *testing.T) {
	home := t.TempDir()
	t.Setenv("COPILOT_HOME", home)
	def := []string{filepath.Join(home, "session-state", "*", "events.jsonl")}
	assert.Equal(t, "the default, under COPILOT_HOME="+home, includeNote(def))
	assert.Empty(t, includeNote([]string{"/elsewhere/*/events.jsonl"}), "configured globs need no note")
	t.Setenv("COPILOT_HOME", "")
	assert.Contains(t, includeNote(defaultInclude()), "the default, under ~/.copilot")
}
