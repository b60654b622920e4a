package copilotreceiver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// rejectedReasons is otelcol_receiver_copilot_hooks_rejected by reason.
func (h *harness) rejectedReasons() map[string]int64 {
	h.t.Helper()
	reasons := map[string]int64{}
	m, err := h.tel.GetMetric("otelcol_receiver_copilot_hooks_rejected")
	if err != nil {
		return reasons // nothing rejected yet
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		reasons[r.AsString()] += dp.Value
	}
	return reasons
}

// TestHookDefaultTimeouts: every phase of a request is bounded by
// default. confighttp's own defaults bound neither the body nor, for a
// minute, the headers, so that connections trickling a byte every few
// seconds stayed open for as long as they liked (issue 8).
func TestHookDefaultTimeouts(t *testing.T) {
	c := defaultHooksConfig()
	assert.Equal(t, 5*time.Second, c.ReadHeaderTimeout, "read_header_timeout")
	assert.Equal(t, 30*time.Second, c.ReadTimeout, "read_timeout")
	assert.Equal(t, 30*time.Second, c.WriteTimeout, "write_timeout")
	assert.Equal(t, 30*time.Second, c.IdleTimeout, "idle_timeout")
	require.NoError(t, c.Validate())
}

// slowConn is a raw loopback connection to the hook endpoint whose
// answers are read as they come; closed is closed when the server closes
// the connection.
type slowConn struct {
	net.Conn
	closed chan struct{}
	mu     sync.Mutex
	got    []byte
	wg     sync.WaitGroup
}

func dialSlow(t *testing.T, base string) *slowConn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	c := &slowConn{Conn: conn, closed: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.closed)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			c.mu.Lock()
			c.got = append(c.got, buf[:n]...)
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		c.wg.Wait()
	})
	return c
}

// trickle writes one byte of s at a time, until the connection fails or
// stop is closed.
func (c *slowConn) trickle(s string, stop <-chan struct{}) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(s); i++ {
			select {
			case <-stop:
				return
			case <-c.closed:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
}

func (c *slowConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *slowConn) answer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.got)
}

// TestHookSlowClientsAreCut: a client that sends its headers, its body, or
// its next request too slowly has its connection closed by the server,
// and a body that did not arrive in time is answered 408 and counted.
func TestHookSlowClientsAreCut(t *testing.T) {
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, func(c *HooksConfig) {
		c.ReadHeaderTimeout = 150 * time.Millisecond
		c.ReadTimeout = 300 * time.Millisecond
		c.IdleTimeout = 300 * time.Millisecond
	})
	defer stop()
	host := strings.TrimPrefix(url, "http://")
	done := make(chan struct{})
	defer close(done)

	t.Run("body", func(t *testing.T) {
		c := dialSlow(t, url)
		body := `{"sessionId":"s","timestamp":1795363646917,"toolName":"bash"}` + strings.Repeat(" ", 2000)
		head := fmt.Sprintf("POST %s/preToolUse HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s: test\r\nContent-Length: %d\r\n\r\n",
			hooksPath, host, HeaderHookClient, len(body))
		_, err := c.Write([]byte(head))
		require.NoError(t, err)
		c.trickle(body, done) // 2 KB at 50 bytes/s: 40 s
		require.Eventually(t, c.isClosed, 10*time.Second, 10*time.Millisecond, "the server kept a trickling body open")
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(c.answer())), nil)
		require.NoError(t, err, "answer: %q", c.answer())
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", b)
		assert.Contains(t, string(b), "hooks.read_timeout")
		assert.Equal(t, int64(1), h.rejectedReasons()[rejectTimeout])
	})

	t.Run("headers", func(t *testing.T) {
		c := dialSlow(t, url)
		c.trickle(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nX-Padding: %s\r\n\r\n", healthPath, host, strings.Repeat("x", 2000)), done)
		require.Eventually(t, c.isClosed, 10*time.Second, 10*time.Millisecond, "the server kept trickling headers open")
		assert.NotContains(t, c.answer(), "200 OK", "the request was served")
	})

	t.Run("idle", func(t *testing.T) {
		c := dialSlow(t, url)
		_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", healthPath, host)
		require.NoError(t, err)
		require.Eventually(t, c.isClosed, 10*time.Second, 10*time.Millisecond, "the server kept an idle connection open")
		assert.True(t, strings.HasPrefix(c.answer(), "HTTP/1.1 200"), c.answer())
	})
}
