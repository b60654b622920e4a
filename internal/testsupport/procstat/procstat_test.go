package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// /proc/<pid>/stat with a command name holding a space and a paren.
	stat := "4242 (otel col) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 12 0 100 0 0"
	got, err := ParseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 2870 * time.Millisecond; got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := ParseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Error("a short line parsed")
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\totelcol\nVmPeak:\t  900000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\n"
	got, err := ParseStatus([]byte(status), "VmHWM")
	if err != nil || got != 81234<<10 {
		t.Fatalf("VmHWM: %d, %v", got, err)
	}
	if _, err := ParseStatus([]byte(status), "RssFile"); err == nil {
		t.Error("a figure the text does not have was read")
	}
}

// TestSelf reads this process's own figures, on Linux where /proc is.
func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Logf("no /proc here: %v", err)
		return
	}
	// Spin until the kernel has counted a tick of CPU (10 ms), however
	// busy the machine is: a fixed spin of wall time can be given less
	// than a tick under load. A ProcCPU that never counts fails after 5 s.
	var c time.Duration
	var err error
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if c, err = ProcCPU(os.Getpid()); err != nil || c > 0 {
			break
		}
	}
	if err != nil || c <= 0 {
		t.Errorf("ProcCPU: %v, %v", c, err)
	}
	if SelfCPU() <= 0 {
		t.Error("SelfCPU is not positive")
	}
	if b, err := StatusBytes(os.Getpid(), "VmHWM"); err != nil || b <= 0 {
		t.Errorf("VmHWM: %d, %v", b, err)
	}
	if p, err := FreePort(); err != nil || p <= 0 {
		t.Errorf("FreePort: %d, %v", p, err)
	}
}
