package transcriptgen

import (
	"math/bits"
	"sort"
	"strconv"
	"sync"
	"time"
)

// rng is splitmix64: tiny, fast and the same on every platform, so a seed
// gives the same bytes everywhere. Nothing here uses math.Exp or friends,
// whose last bits may differ between architectures.
type rng struct{ s uint64 }

// newRNG scatters the seed over the generator's cycle, so that nearby
// seeds give unrelated streams.
func newRNG(seed int64) *rng { return &rng{s: mix64(mix64(uint64(seed)) ^ 0x2545f4914f6cdd1d)} }

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n); n <= 0 gives 0.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance reports true with probability p/1000.
func (r *rng) chance(perMille int) bool { return r.intn(1000) < perMille }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// spreadPerMille is 1000·2^(k/4) for k = -8..8, rounded: the factors by
// which a size is spread around its typical value.
var spreadPerMille = [17]int64{250, 297, 354, 420, 500, 595, 707, 841, 1000, 1189, 1414, 1682, 2000, 2378, 2828, 3364, 4000}

// spread returns typical scaled by a roughly log-normal factor between 1/4
// and 4 (a sum of uniforms picks the exponent), median typical.
func (r *rng) spread(typical int64) int64 {
	k := 8
	for i := 0; i < 4; i++ {
		k += r.intn(5) - 2
	}
	return typical * spreadPerMille[k] / 1000
}

// ---- JSON text helpers ----

const hexDigits = "0123456789abcdef"

// appendUUID appends a random version-4 UUID.
func appendUUID(b []byte, r *rng) []byte {
	hi, lo := r.next(), r.next()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	var u [16]byte
	for i := 0; i < 8; i++ {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

func newUUID(r *rng) string { return string(appendUUID(make([]byte, 0, 36), r)) }

func randHex(r *rng, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[r.intn(16)]
	}
	return string(b)
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randAlnum(r *rng, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.intn(len(alnum))]
	}
	return string(b)
}

var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true // UTF-8 is written as it is, like the CLI does
	}
	return
}()

// appendEscaped appends s escaped for the inside of a JSON string (no quotes).
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonSafe[c] {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendStr appends s as a JSON string.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendF64 writes a float the way the CLI's native code writes an f64: an
// integral value keeps a ".0" (0.0, 4737390000.0).
func appendF64(b []byte, v float64) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	for _, c := range b[n:] {
		if c == '.' || c == 'e' {
			return b
		}
	}
	return append(b, '.', '0')
}

// appendJS writes a number the way JSON.stringify does (integral values
// without a fraction), as the CLI's flat shutdown totals are written.
func appendJS(b []byte, v float64) []byte { return strconv.AppendFloat(b, v, 'f', -1, 64) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// appendISO appends ms (Unix milliseconds) as RFC 3339 UTC with milliseconds.
func appendISO(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, isoMillis)
}

// ---- text pools ----

// A pool is a long run of JSON-escaped text made of lines that each end in
// an escaped newline; starts holds the offset of every line, so that any
// run of whole lines can be copied without cutting an escape sequence.
type pool struct {
	text   []byte
	starts []int32
}

func (p *pool) lines() int { return len(p.starts) }

func (p *pool) line(i int) []byte {
	end := len(p.text)
	if i+1 < len(p.starts) {
		end = int(p.starts[i+1])
	}
	return p.text[p.starts[i]:end]
}

// appendRun appends whole lines of the pool, from a random line on and
// jumping elsewhere every few kilobytes, until about n bytes are written.
func (p *pool) appendRun(b []byte, r *rng, n int) []byte {
	target := len(b) + n
	for len(b) < target {
		from := r.intn(len(p.starts))
		want := min(target-len(b), r.between(512, 48<<10))
		end := int(p.starts[from]) + want
		// Cut at the first line start at or after end.
		j := sort.Search(len(p.starts), func(i int) bool { return int(p.starts[i]) >= end })
		stop := len(p.text)
		if j < len(p.starts) {
			stop = int(p.starts[j])
		}
		b = append(b, p.text[p.starts[from]:stop]...)
	}
	return b
}

func buildPool(size int, seed int64, line func(r *rng, b []byte) []byte) *pool {
	r := newRNG(seed)
	p := &pool{text: make([]byte, 0, size+4096)}
	raw := make([]byte, 0, 512)
	for len(p.text) < size {
		raw = line(r, raw[:0])
		p.starts = append(p.starts, int32(len(p.text)))
		p.text = appendEscaped(p.text, string(raw))
		p.text = append(p.text, '\\', 'n')
	}
	return p
}

type pools struct {
	log, code, prose *pool
}

var (
	poolsOnce sync.Once
	thePools  pools
)

func getPools() *pools {
	poolsOnce.Do(func() {
		thePools = pools{
			log:   buildPool(3<<20, 101, logLine),
			code:  buildPool(3<<20, 202, codeLine),
			prose: buildPool(1<<20, 303, proseLine),
		}
	})
	return &thePools
}

// ---- vocabulary ----

var (
	nouns = []string{"payment", "refund", "ledger", "account", "invoice", "customer", "order", "batch", "retry",
		"webhook", "session", "token", "config", "cache", "queue", "event", "export", "report", "charge", "balance",
		"transfer", "merchant", "settlement", "dispute", "currency", "schedule", "worker", "client", "request",
		"response", "handler", "policy", "limit", "window", "record", "entry", "journal", "snapshot", "cursor"}
	verbs = []string{"get", "create", "update", "delete", "list", "process", "validate", "apply", "compute",
		"parse", "load", "store", "send", "fetch", "handle", "retry", "reconcile", "export", "import", "build",
		"flush", "merge", "resolve", "schedule", "cancel", "capture", "settle", "render", "encode", "decode"}
	adjectives = []string{"pending", "partial", "failed", "settled", "stale", "active", "default", "primary",
		"remote", "local", "cached", "signed", "idempotent", "async", "concurrent", "nested", "empty", "large"}
	goTypes   = []string{"string", "int64", "int", "bool", "time.Time", "[]byte", "error", "*Refund", "map[string]int64", "[]Entry", "context.Context", "float64"}
	proseBits = []string{"the", "a", "this", "each", "every", "when", "if", "you", "must", "should", "never",
		"always", "use", "tool", "tools", "file", "files", "command", "user", "request", "repository", "changes",
		"code", "test", "tests", "before", "after", "and", "or", "not", "only", "with", "without", "in", "of",
		"to", "for", "on", "from", "that", "which", "it", "is", "are", "be", "can", "will", "make", "minimal",
		"precise", "edits", "existing", "conventions", "output", "result", "results", "context", "session",
		"shell", "path", "paths", "absolute", "relative", "directory", "instructions", "task", "tasks",
		"explain", "summarize", "verify", "run", "build", "linters", "safety", "secrets", "credentials", "commit"}
	people = []string{"Dana Smith", "Lee Chen", "Priya Natarajan", "Tomás García", "Ana Kowalska", "Sam Okafor", "Mia Jensen"}
	pkgs   = []string{"internal/ledger", "internal/refunds", "internal/payments", "internal/webhooks", "pkg/money",
		"internal/export", "cmd/server", "internal/store", "internal/retry", "internal/auth"}
)

func ident(r *rng) string {
	v, n := pick(r, verbs), pick(r, nouns)
	return v + string(n[0]-32) + n[1:]
}

func typeName(r *rng) string {
	n := pick(r, nouns)
	if r.chance(400) {
		a := pick(r, adjectives)
		return string(a[0]-32) + a[1:] + string(n[0]-32) + n[1:]
	}
	return string(n[0]-32) + n[1:]
}

func appendWords(b []byte, r *rng, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, pick(r, proseBits)...)
	}
	return b
}

// logLine is one line of command output: builds, tests, logs, listings.
func logLine(r *rng, b []byte) []byte {
	switch r.intn(14) {
	case 0:
		b = append(b, "ok  \tgithub.com/acme/payments-api/"...)
		b = append(b, pick(r, pkgs)...)
		b = append(b, '\t', '0', '.')
		return appendInt(b, int64(r.between(100, 999)))
	case 1:
		b = append(b, "=== RUN   Test"...)
		b = append(b, typeName(r)...)
		b = append(b, '/')
		return append(b, pick(r, adjectives)+"_"+pick(r, nouns)...)
	case 2:
		b = append(b, "--- PASS: Test"...)
		b = append(b, typeName(r)...)
		b = append(b, " (0."...)
		b = appendInt(b, int64(r.between(10, 99)))
		return append(b, "s)"...)
	case 3:
		b = append(b, "    "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, "_test.go:"...)
		b = appendInt(b, int64(r.between(10, 900)))
		b = append(b, ": expected "...)
		b = appendInt(b, int64(r.intn(10)))
		b = append(b, " "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, "s, got \""...)
		b = append(b, pick(r, adjectives)...)
		return append(b, '"')
	case 4:
		b = appendISO(b, 1767225600000+int64(r.intn(1<<30)))
		b = append(b, pick(r, []string{" INFO  ", " DEBUG ", " WARN  ", " ERROR "})...)
		b = append(b, "[worker-"...)
		b = appendInt(b, int64(r.intn(16)))
		b = append(b, "] "...)
		b = append(b, pick(r, verbs)...)
		b = append(b, "ed "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, " id="...)
		b = appendInt(b, int64(r.intn(100000)))
		b = append(b, " size="...)
		b = appendInt(b, int64(r.intn(1000)))
		b = append(b, " elapsed="...)
		b = appendInt(b, int64(r.intn(900)))
		return append(b, "ms"...)
	case 5:
		b = append(b, "  \x1b[32m✓\x1b[39m should "...)
		b = append(b, pick(r, verbs)...)
		b = append(b, ' ')
		b = append(b, pick(r, adjectives)...)
		b = append(b, ' ')
		b = append(b, pick(r, nouns)...)
		b = append(b, "s ("...)
		b = appendInt(b, int64(r.intn(80)))
		return append(b, " ms)"...)
	case 6:
		b = append(b, "src/"...)
		b = append(b, pick(r, nouns)...)
		b = append(b, "s/"...)
		b = append(b, pick(r, verbs)...)
		b = append(b, ".ts("...)
		b = appendInt(b, int64(r.between(1, 400)))
		b = append(b, ',')
		b = appendInt(b, int64(r.between(1, 80)))
		b = append(b, "): error TS2345: Argument of type 'string' is not assignable to parameter of type '"...)
		b = append(b, typeName(r)...)
		return append(b, "'."...)
	case 7:
		b = append(b, "commit "...)
		for i := 0; i < 40; i++ {
			b = append(b, hexDigits[r.intn(16)])
		}
		return b
	case 8:
		b = append(b, "Author: "...)
		b = append(b, pick(r, people)...)
		return append(b, " <dev@acme.example>"...)
	case 9:
		b = append(b, "drwxr-xr-x  "...)
		b = appendInt(b, int64(r.between(2, 9)))
		b = append(b, " dev dev  4096 Jan "...)
		b = appendInt(b, int64(r.between(10, 28)))
		b = append(b, " 10:"...)
		b = appendInt(b, int64(r.between(10, 59)))
		b = append(b, ' ')
		return append(b, pick(r, nouns)...)
	case 10:
		b = append(b, "  File \"/home/dev/src/app/"...)
		b = append(b, pick(r, nouns)...)
		b = append(b, ".py\", line "...)
		b = appendInt(b, int64(r.between(1, 600)))
		b = append(b, ", in "...)
		return append(b, pick(r, verbs)+"_"+pick(r, nouns)...)
	case 11:
		b = append(b, "npm WARN deprecated "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, "@"...)
		b = appendInt(b, int64(r.intn(9)))
		b = append(b, '.')
		b = appendInt(b, int64(r.intn(20)))
		b = append(b, ".0: "...)
		return appendWords(b, r, r.between(4, 10))
	case 12:
		b = append(b, "+\t"...)
		return codeLine(r, b)
	default:
		b = append(b, pick(r, pkgs)...)
		b = append(b, '/')
		b = append(b, pick(r, nouns)...)
		b = append(b, ".go:"...)
		b = appendInt(b, int64(r.between(1, 700)))
		b = append(b, ':')
		b = appendInt(b, int64(r.between(1, 40)))
		b = append(b, ": "...)
		return appendWords(b, r, r.between(3, 9))
	}
}

// codeLine is one line of source code (mostly Go, some Python and TypeScript).
func codeLine(r *rng, b []byte) []byte {
	indent := r.intn(4)
	for i := 0; i < indent; i++ {
		b = append(b, '\t')
	}
	switch r.intn(16) {
	case 0:
		b = append(b, "func (s *"...)
		b = append(b, typeName(r)...)
		b = append(b, ") "...)
		b = append(b, typeName(r)...)
		b = append(b, "(ctx context.Context, id string) (*"...)
		b = append(b, typeName(r)...)
		return append(b, ", error) {"...)
	case 1:
		return append(b, "if err != nil {"...)
	case 2:
		b = append(b, "return nil, fmt.Errorf(\""...)
		b = append(b, pick(r, verbs)...)
		b = append(b, ' ')
		b = append(b, pick(r, nouns)...)
		return append(b, " %s: %w\", id, err)"...)
	case 3:
		return append(b, '}')
	case 4:
		b = append(b, "// "...)
		b = append(b, typeName(r)...)
		b = append(b, ' ')
		return appendWords(b, r, r.between(5, 14))
	case 5:
		b = append(b, pick(r, nouns)...)
		b = append(b, ", err := s."...)
		b = append(b, pick(r, nouns)...)
		b = append(b, '.')
		b = append(b, typeName(r)...)
		return append(b, "(ctx, req)"...)
	case 6:
		n := typeName(r)
		b = append(b, n...)
		b = append(b, " "...)
		b = append(b, pick(r, goTypes)...)
		b = append(b, " `json:\""...)
		b = append(b, string(n[0]+32)+n[1:]...)
		return append(b, ",omitempty\"`"...)
	case 7:
		b = append(b, "type "...)
		b = append(b, typeName(r)...)
		return append(b, " struct {"...)
	case 8:
		b = append(b, "for _, "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, " := range "...)
		b = append(b, pick(r, nouns)...)
		return append(b, "s {"...)
	case 9:
		b = append(b, "def "...)
		b = append(b, pick(r, verbs)+"_"+pick(r, nouns)...)
		b = append(b, "(self, "...)
		b = append(b, pick(r, nouns)...)
		return append(b, ", *, retries: int = 3) -> dict:"...)
	case 10:
		b = append(b, "export async function "...)
		b = append(b, ident(r)...)
		b = append(b, "("...)
		b = append(b, pick(r, nouns)...)
		b = append(b, ": "...)
		b = append(b, typeName(r)...)
		return append(b, "): Promise<void> {"...)
	case 11:
		b = append(b, "const "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, " = await this."...)
		b = append(b, ident(r)...)
		b = append(b, "({ id: '"...)
		b = append(b, randAlnum(r, 8)...)
		return append(b, "', retries: 3 });"...)
	case 12:
		b = append(b, "logger.Info(\""...)
		b = append(b, pick(r, verbs)...)
		b = append(b, "ed "...)
		b = append(b, pick(r, nouns)...)
		b = append(b, "\", \"id\", "...)
		b = append(b, pick(r, nouns)...)
		return append(b, ".ID, \"attempt\", attempt)"...)
	case 13:
		return b
	case 14:
		b = append(b, "assert.Equal(t, "...)
		b = appendInt(b, int64(r.intn(1000)))
		b = append(b, ", got."...)
		b = append(b, typeName(r)...)
		b = append(b, ", \"\\\""...)
		b = append(b, pick(r, nouns)...)
		return append(b, "\\\" mismatch\")"...)
	default:
		b = append(b, "return s."...)
		b = append(b, ident(r)...)
		b = append(b, "(ctx, "...)
		b = append(b, pick(r, nouns)...)
		return append(b, ")"...)
	}
}

// proseLine is a line of instructions or explanation in markdown.
func proseLine(r *rng, b []byte) []byte {
	switch r.intn(10) {
	case 0:
		b = append(b, "## "...)
		return appendWords(b, r, r.between(2, 5))
	case 1:
		b = append(b, '<')
		b = append(b, pick(r, nouns)...)
		b = append(b, "_instructions>"...)
		return b
	case 2, 3:
		b = append(b, "- "...)
		b = appendWords(b, r, r.between(6, 20))
		return append(b, '.')
	case 4:
		return b
	case 5:
		b = append(b, "* Use `"...)
		b = append(b, pick(r, []string{"bash", "view", "grep", "glob", "edit", "create", "task"})...)
		b = append(b, "` to "...)
		b = appendWords(b, r, r.between(5, 15))
		return append(b, ". Example: \"run the tests\"."...)
	default:
		for s := r.between(1, 4); s > 0; s-- {
			n := len(b)
			b = appendWords(b, r, r.between(8, 24))
			if n < len(b) && b[n] >= 'a' && b[n] <= 'z' {
				b[n] -= 32
			}
			b = append(b, ". "...)
		}
		return b[:len(b)-1]
	}
}

// span picks a run of consecutive lines (wrapping) of about size bytes.
func (p *pool) span(r *rng, size int) (from, n int) {
	from = r.intn(len(p.starts))
	for total := 0; total < size || n == 0; n++ {
		total += len(p.line((from + n) % len(p.starts)))
	}
	return from, n
}

// appendSpan appends n consecutive lines from from, each after prefix.
func (p *pool) appendSpan(b []byte, from, n int, prefix string) []byte {
	for i := 0; i < n; i++ {
		b = append(b, prefix...)
		b = append(b, p.line((from+i)%len(p.starts))...)
	}
	return b
}
