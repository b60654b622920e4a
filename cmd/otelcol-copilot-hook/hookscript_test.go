package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/otelcol-copilot/otelcol-copilot/internal/forwarder"
)

// jiraStandIn records the field updates a Jira REST API receives, and
// answers with status.
type jiraStandIn struct {
	mu      sync.Mutex
	status  int
	updates []jiraUpdate
}

type jiraUpdate struct {
	Method, Path, User, Password, Bearer string
	Fields                               map[string]string
}

func (j *jiraStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Fields map[string]string }
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &body)
	u := jiraUpdate{Method: r.Method, Path: r.URL.Path, Fields: body.Fields}
	u.User, u.Password, _ = r.BasicAuth()
	u.Bearer = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	j.mu.Lock()
	j.updates = append(j.updates, u)
	status := j.status
	j.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

// TestJiraSessionEndScript runs examples/hooks/jira-session-end.sh as the
// CLI runs a sessionEnd hook (the recorded payload on its stdin) against a
// Jira stand-in on loopback: Cloud (REST v3, basic auth) and Data Center
// (REST v2, bearer) get the session's ticket field; a Jira that refuses
// costs the agent nothing (exit 0).
func TestJiraSessionEndScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the hook script needs %s: %v", tool, err)
		}
	}
	id := "5fc41fe9-2cf0-4410-b210-6aeb460047e4" // on feature/PAY-4411-refund-retries
	src := filepath.Join(testdata(t), "1.0.102", "session-state", id, "events.jsonl")
	home := t.TempDir()
	dst := filepath.Join(home, "session-state", id, "events.jsonl")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	payload := recordedPayload(t, filepath.Join(testdata(t), "..", "..", "..", "shared", "copilot-cli", "1.0.102", "hooks", "sessionEnd.jsonl"), id)
	want := fullUsage(t, src, id)
	wantValue := "AI Credits: " + forwarder.Credits(want.TotalNanoAIU) + ", Tokens: " +
		itoa(want.TokenDetails.Input+want.TokenDetails.Output) + ", Cost: 0 USD"

	// otelcol-copilot-hook on PATH is this test binary running main.
	bin := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nOTELCOL_COPILOT_HOOK_TEST_RUN_MAIN=1 exec '" + exe + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "otelcol-copilot-hook"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("../../examples/hooks/jira-session-end.sh")
	if err != nil {
		t.Fatal(err)
	}
	jira := &jiraStandIn{}
	srv := httptest.NewServer(jira)
	defer srv.Close()
	run := func(env ...string) (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Stdin = strings.NewReader(payload)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"COPILOT_HOME="+home, "OTELCOL_COPILOT_STATE_DIR="+t.TempDir(),
			"JIRA_BASE_URL="+srv.URL, "JIRA_FIELD=customfield_10050")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("JIRA_EMAIL=dev@example.com", "JIRA_API_TOKEN=t0ken")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out2, err := run("JIRA_PAT=p4t")
	if err != nil {
		t.Fatalf("%v: %s", err, out2)
	}
	jira.mu.Lock()
	got := append([]jiraUpdate(nil), jira.updates...)
	jira.status = http.StatusNotFound
	jira.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("Jira got %d updates, want 2: %+v\n%s%s", len(got), got, out, out2)
	}
	cloud, dc := got[0], got[1]
	if cloud.Method != http.MethodPut || cloud.Path != "/rest/api/3/issue/PAY-4411" || cloud.User != "dev@example.com" || cloud.Password != "t0ken" {
		t.Errorf("Cloud update %+v", cloud)
	}
	if dc.Path != "/rest/api/2/issue/PAY-4411" || dc.Bearer != "p4t" {
		t.Errorf("Data Center update %+v", dc)
	}
	for _, u := range got {
		if u.Fields["customfield_10050"] != wantValue {
			t.Errorf("field %q, want %q", u.Fields["customfield_10050"], wantValue)
		}
	}

	// Jira refuses: the hook still succeeds, and says why on stderr.
	out, err = run("JIRA_PAT=p4t")
	if err != nil {
		t.Fatalf("a refused update failed the hook: %v: %s", err, out)
	}
	if !strings.Contains(out, "could not set customfield_10050 of PAY-4411") {
		t.Errorf("stderr %q", out)
	}
}

// recordedPayload returns the payload of session id in a file of recorded
// hook payloads, one JSON object a line.
func recordedPayload(t *testing.T, path, id string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"sessionId":"`+id+`"`) {
			return sc.Text()
		}
	}
	t.Fatalf("no payload of session %s in %s", id, path)
	return ""
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }
