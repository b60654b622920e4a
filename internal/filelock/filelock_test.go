package filelock

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLockExcludesAndIsReleased: a second lock of the file, in this
// process or another, waits for the first to be released, by Unlock or by
// the end of its holder, even killed.
func TestLockExcludesAndIsReleased(t *testing.T) {
	if path := os.Getenv("FILELOCK_TEST_HOLD"); path != "" {
		l, ok, err := TryLock(path)
		if err != nil || !ok {
			os.Exit(3)
		}
		_ = l
		os.Stdout.WriteString("held\n")
		select {} // until killed
	}
	if !IsReal {
		t.Skip("this system has no file locks")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	l, ok, err := TryLock(path)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err := TryLock(path); ok || err != nil {
		t.Fatalf("a second lock in the same process: ok %v, %v", ok, err)
	}
	l.Unlock()
	l, ok, err = TryLock(path)
	if err != nil || !ok {
		t.Fatalf("after Unlock: ok %v, %v", ok, err)
	}
	l.Unlock()

	// Another process holds it, then is killed.
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockExcludesAndIsReleased$")
	cmd.Env = append(os.Environ(), "FILELOCK_TEST_HOLD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("the holder said %q, %v", line, err)
	}
	if _, ok, err := TryLock(path); ok || err != nil {
		t.Fatalf("held by another process: ok %v, %v", ok, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, ok, err = TryLock(path)
	if err != nil || !ok {
		t.Fatalf("after its holder was killed: ok %v, %v", ok, err)
	}
	l.Unlock()
}
