package forwarder

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
)

// The spool is a directory of files, one per payload the collector did not
// take yet:
//
//	<nanos>-<id>-<size>.hook                    a pending payload
//	<nanos>-<id>-<size>.hook.claim-<nanos>-<pid> a payload being sent
//	.tmp-<nanos>-<id>                           a payload being written
//	.lock                                       held by the process replaying
//	dropped                                     payloads dropped over the bounds
//	.retry-after                                the collector's Retry-After
//	id                                          the spool's identity
//
// <nanos> (20 digits) is when the payload was spooled, made later than
// every payload already there, so names sort in arrival order; <id> is the
// payload's idempotency key and <size> the file's size, so that the bounds
// are checked from one directory listing. A file holds a short header
// (format, hook type, id, time received), an empty line, and the body as
// received (plus the usage member).
//
// A payload is written to a temporary file and renamed into place, so a
// reader never sees half of one. A sender claims a payload by renaming it
// to its claim name (only one rename of a name can succeed), sends it, and
// then removes it, or renames it back when the collector did not take it.
// Replays happen under .lock, so one process replays at a time and in
// order; a claim found while holding the lock was left by a process that
// died and is renamed back.
const (
	spoolExt    = ".hook"
	claimInfix  = ".claim-"
	tmpPrefix   = ".tmp-"
	lockName    = ".lock"
	droppedName = "dropped"
	droppedLock = ".dropped.lock"
	backoffName = ".retry-after"
	idName      = "id"
	spoolMagic  = "otelcol-copilot-hook spool 1"
)

// Spool defaults.
const (
	DefaultSpoolMaxBytes = 64 << 20
	DefaultSpoolMaxFiles = 10000
)

// staleTemp is the age after which a temporary file was left by a process
// that died while writing it.
const staleTemp = 10 * time.Minute

// staleClaim is the age after which a claim was left by a process that
// died, on systems without a real lock.
const staleClaim = 2 * time.Minute

// maxBackoff caps how long a Retry-After keeps hooks from trying.
const maxBackoff = 5 * time.Minute

// errNoDir is returned when the spool has no directory.
var errNoDir = errors.New("no spool directory: set --spool-dir or " + EnvSpoolDir)

// ErrTooLarge is returned by Put for a payload larger than the spool.
var ErrTooLarge = errors.New("the payload is larger than the spool's size bound")

// Entry is one payload, as it is sent and spooled.
type Entry struct {
	// Type is the hook type (canonical name).
	Type string
	// ID is the idempotency key sent as X-Copilot-Hook-Id.
	ID string
	// Received is when the forwarder read the payload.
	Received time.Time
	// Body is the payload.
	Body []byte
}

// Spool is the directory of payloads waiting for the collector. Its methods
// are safe for use by concurrent processes.
type Spool struct {
	Dir string
	// MaxBytes and MaxFiles bound the spool; over either bound, the oldest
	// pending payloads are dropped. Zero means the defaults.
	MaxBytes int64
	MaxFiles int
	Log      *Logger
	// Endpoint, when set, is the collector this spool's payloads are for,
	// noted in the directory (see Spools).
	Endpoint string

	now func() time.Time
	// readFile reads a payload file; nil means os.ReadFile (tests inject
	// failures here).
	readFile func(string) ([]byte, error)
}

// errCorrupt marks a payload file that was read and is not a payload: the
// only read failure for which a payload is dropped.
var errCorrupt = errors.New("not a spooled payload")

func (s *Spool) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Spool) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultSpoolMaxBytes
}

func (s *Spool) maxFiles() int {
	if s.MaxFiles > 0 {
		return s.MaxFiles
	}
	return DefaultSpoolMaxFiles
}

// spooled is one payload file found in the directory.
type spooled struct {
	name    string // the file's name now
	base    string // its pending name
	nanos   int64
	id      string
	size    int64
	claimed bool
	claimAt int64 // unix nanos, for a claimed file
}

// parseName reads a payload file's name; ok is false for other files.
func parseName(name string) (spooled, bool) {
	sp := spooled{name: name, base: name}
	if i := strings.Index(name, claimInfix); i >= 0 {
		sp.base = name[:i]
		sp.claimed = true
		rest := name[i+len(claimInfix):]
		at, _, _ := strings.Cut(rest, "-")
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			return sp, false
		}
		sp.claimAt = n
	}
	stem, ok := strings.CutSuffix(sp.base, spoolExt)
	if !ok {
		return sp, false
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 3 || len(parts[0]) != 20 || !hook.ValidForwarderID(parts[1]) {
		return sp, false
	}
	var err error
	if sp.nanos, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return sp, false
	}
	if sp.size, err = strconv.ParseInt(parts[2], 10, 64); err != nil || sp.size < 0 {
		return sp, false
	}
	sp.id = parts[1]
	return sp, true
}

func pendingName(nanos int64, id string, size int) string {
	return fmt.Sprintf("%020d-%s-%d%s", nanos, id, size, spoolExt)
}

// encode writes an entry in the spool file format.
func encode(e Entry) []byte {
	var b bytes.Buffer
	b.Grow(len(e.Body) + 160)
	b.WriteString(spoolMagic + "\n")
	b.WriteString("type: " + e.Type + "\n")
	b.WriteString("id: " + e.ID + "\n")
	b.WriteString("received: " + e.Received.UTC().Format(time.RFC3339Nano) + "\n\n")
	b.Write(e.Body)
	return b.Bytes()
}

// decode reads a spool file.
func decode(data []byte) (Entry, error) {
	var e Entry
	head, body, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return e, errors.New("no end of header")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != spoolMagic {
		return e, fmt.Errorf("not a spool file of this format (%q)", lines[0])
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		switch k {
		case "type":
			e.Type = v
		case "id":
			e.ID = v
		case "received":
			e.Received, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	if e.Type == "" || !hook.ValidForwarderID(e.ID) {
		return e, errors.New("header without a hook type or id")
	}
	e.Body = body
	return e, nil
}

// list returns the payload files in arrival order. A missing directory is
// an empty spool.
func (s *Spool) list() ([]spooled, error) {
	if s.Dir == "" {
		return nil, errNoDir
	}
	des, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]spooled, 0, len(des))
	for _, de := range des {
		if sp, ok := parseName(de.Name()); ok {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b spooled) int {
		if a.nanos != b.nanos {
			if a.nanos < b.nanos {
				return -1
			}
			return 1
		}
		return strings.Compare(a.base, b.base)
	})
	return out, nil
}

// Stats describes the spool.
type Stats struct {
	Payloads int   // payload files, pending or being sent
	Bytes    int64 // their size
	Claimed  int   // of which being sent
	Dropped  int64 // payloads ever dropped over the bounds
}

// Stats returns what the spool holds.
func (s *Spool) Stats() (Stats, error) {
	items, err := s.list()
	var st Stats
	for _, it := range items {
		st.Payloads++
		st.Bytes += it.size
		if it.claimed {
			st.Claimed++
		}
	}
	st.Dropped = s.Dropped()
	return st, err
}

// Put writes a payload behind every payload already spooled, dropping the
// oldest pending ones if the bounds require it. It returns how many were
// dropped. A payload that cannot fit even in an empty spool is not written
// (ErrTooLarge) and is counted as dropped.
func (s *Spool) Put(e Entry) (int, error) {
	if s.Dir == "" {
		return 0, errNoDir
	}
	data := encode(e)
	if int64(len(data)) > s.maxBytes() || s.maxFiles() < 1 {
		s.addDropped(1)
		return 0, ErrTooLarge
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return 0, err
	}
	s.noteEndpoint()
	items, err := s.list()
	if err != nil {
		return 0, err
	}
	var (
		count = len(items)
		total int64
		last  int64
	)
	for _, it := range items {
		total += it.size
		last = max(last, it.nanos)
	}
	var dropped []spooled
	for _, it := range items {
		if count+1 <= s.maxFiles() && total+int64(len(data)) <= s.maxBytes() {
			break
		}
		if it.claimed {
			continue // being sent: it will leave the spool by itself
		}
		if os.Remove(filepath.Join(s.Dir, it.name)) == nil {
			dropped = append(dropped, it)
		}
		// Whether this process or another removed it, it is gone.
		count--
		total -= it.size
	}
	if len(dropped) > 0 {
		s.addDropped(int64(len(dropped)))
		ids := make([]string, 0, min(len(dropped), 5))
		for _, d := range dropped[:min(len(dropped), 5)] {
			ids = append(ids, d.id)
		}
		s.Log.Warnf("spool %s is over its bounds (%d payloads, %d bytes): dropped the %d oldest payloads (ids %s…)",
			s.Dir, s.maxFiles(), s.maxBytes(), len(dropped), strings.Join(ids, ","))
	}
	nanos := max(s.clock().UnixNano(), last+1)
	name := pendingName(nanos, e.ID, len(data))
	// The hook answers "spooled" once this returns, and nothing else
	// keeps the payload: it must survive a power cut, not only a crash.
	if err := writeFileDurable(s.Dir, tmpPrefix+strconv.FormatInt(nanos, 10)+"-"+e.ID, name, data, 0o600); err != nil {
		return len(dropped), err
	}
	return len(dropped), nil
}

// writeFileAtomic writes data to dir/tmp and renames it to dir/name: a
// reader sees the old file or the new one whole, unless the machine loses
// power before the system has written them out.
func writeFileAtomic(dir, tmp, name string, data []byte, perm os.FileMode) error {
	return writeFile(dir, tmp, name, data, perm, false)
}

// writeFileDurable is writeFileAtomic that also survives a power cut: the
// data reach the disk before the rename, so that the name never shows a
// file cut short, and the directory is synced after it, so that the name
// stays. It costs a few milliseconds, for the payloads the hook spools
// (only while the collector does not take them) and the count of those
// dropped, and not for the files written at every hook (the usage cache).
func writeFileDurable(dir, tmp, name string, data []byte, perm os.FileMode) error {
	return writeFile(dir, tmp, name, data, perm, true)
}

// syncFile and syncDir flush a file and a directory to the disk; tests
// replace them.
var (
	syncFile = (*os.File).Sync
	syncDir  = func(dir string) {
		// Best effort: Windows cannot sync a directory (NTFS journals the
		// rename), and a failure says nothing of the file.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
)

func writeFile(dir, tmp, name string, data []byte, perm os.FileMode, durable bool) error {
	tp := filepath.Join(dir, tmp)
	f, err := os.OpenFile(tp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tp)
		return err
	}
	if durable {
		syncDir(dir)
	}
	return nil
}

// claim renames a pending payload to a claim name of this process. ok is
// false when the file is gone (another process claimed or dropped it).
func (s *Spool) claim(it spooled) (string, bool, error) {
	claimed := fmt.Sprintf("%s%s%020d-%d", it.base, claimInfix, s.clock().UnixNano(), os.Getpid())
	err := os.Rename(filepath.Join(s.Dir, it.base), filepath.Join(s.Dir, claimed))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return claimed, true, nil
}

// unclaim renames a claimed payload back to its pending name, where it
// keeps its place in the order.
func (s *Spool) unclaim(base, claimed string) error {
	return os.Rename(filepath.Join(s.Dir, claimed), filepath.Join(s.Dir, base))
}

// read reads a payload file. The error wraps errCorrupt when the file was
// read and is not a payload; any other error (too many open files, an I/O
// error, a file another program holds open on Windows) says nothing of the
// payload, which is kept.
func (s *Spool) read(name string) (Entry, error) {
	path := filepath.Join(s.Dir, name)
	readFile := s.readFile
	if readFile == nil {
		readFile = os.ReadFile
	}
	data, err := readFile(path)
	if err != nil {
		return Entry{}, fmt.Errorf("spool file %s: %w", path, err)
	}
	e, err := decode(data)
	if err != nil {
		return e, fmt.Errorf("spool file %s: %w: %w", path, errCorrupt, err)
	}
	return e, nil
}

func (s *Spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.Dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// recover renames back the claims of processes that died and removes
// temporary files they left. With all set (the caller holds a real lock,
// so no claim can be live) every claim is recovered, else only old ones.
func (s *Spool) recover(items []spooled, all bool) []spooled {
	now := s.clock()
	for i, it := range items {
		if !it.claimed || (!all && now.Sub(time.Unix(0, it.claimAt)) < staleClaim) {
			continue
		}
		if err := s.unclaim(it.base, it.name); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.Log.Warnf("could not recover abandoned spool claim %s: %v", filepath.Join(s.Dir, it.name), err)
			}
			continue
		}
		s.Log.Infof("recovered spooled payload %s abandoned by a process that did not finish sending it", it.id)
		items[i].name, items[i].claimed = it.base, false
	}
	des, err := os.ReadDir(s.Dir)
	if err != nil {
		return items
	}
	for _, de := range des {
		rest, ok := strings.CutPrefix(de.Name(), tmpPrefix)
		if !ok {
			continue
		}
		at, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.ParseInt(at, 10, 64); err == nil && now.Sub(time.Unix(0, n)) > staleTemp {
			_ = os.Remove(filepath.Join(s.Dir, de.Name()))
		}
	}
	return items
}

// lock takes the replay lock without waiting. On a system without real
// locks (filelock.IsReal false) it always succeeds, so replays by
// concurrent processes may overlap: claims still keep a payload from being
// sent twice, only the order across processes may suffer, and abandoned
// claims are recovered by age.
func (s *Spool) lock() (*filelock.Lock, bool, error) {
	if s.Dir == "" {
		return nil, false, errNoDir
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, false, err
	}
	s.noteEndpoint()
	return filelock.TryLock(filepath.Join(s.Dir, lockName))
}

// lockWait takes the replay lock, waiting up to d.
func (s *Spool) lockWait(d time.Duration) (*filelock.Lock, bool, error) {
	deadline := time.Now().Add(d)
	for {
		l, ok, err := s.lock()
		if ok || err != nil || time.Now().After(deadline) {
			return l, ok, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Dropped returns how many payloads were dropped over the bounds so far.
func (s *Spool) Dropped() int64 {
	if s.Dir == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, droppedName))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// ID returns the spool's identity: 32 hexadecimal digits, made at random
// the first time it is asked for and kept in the spool directory, so that
// a collector can tell apart the drop totals of several spools of one
// machine (several users, or several spool directories). "" when it can
// be neither read nor made.
func (s *Spool) ID() string {
	if s.Dir == "" {
		return ""
	}
	path := filepath.Join(s.Dir, idName)
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); hook.ValidForwarderID(id) {
			return id
		}
		s.Log.Warnf("%s does not hold a spool id; making a new one", path)
		_ = os.Remove(path)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return ""
	}
	id := NewID()
	tmp := filepath.Join(s.Dir, fmt.Sprintf("%s%d-%d-id", tmpPrefix, s.clock().UnixNano(), os.Getpid()))
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return ""
	}
	defer os.Remove(tmp)
	// A link never replaces a file: of two processes making the id at
	// once, one wins and both read its id.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		if rerr := os.Rename(tmp, path); rerr != nil {
			return ""
		}
	}
	if b, err := os.ReadFile(path); err == nil {
		if got := strings.TrimSpace(string(b)); hook.ValidForwarderID(got) {
			return got
		}
	}
	return ""
}

// addDropped adds n to the drop counter, under a lock of its own so that
// concurrent drops are all counted.
func (s *Spool) addDropped(n int64) {
	if s.Dir == "" {
		return
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		s.Log.Errorf("could not count %d dropped payloads: %v", n, err)
		return
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	var l *filelock.Lock
	for {
		var ok bool
		var err error
		l, ok, err = filelock.TryLock(filepath.Join(s.Dir, droppedLock))
		if ok || err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	defer l.Unlock()
	total := s.Dropped() + n
	name := droppedName
	tmp := fmt.Sprintf("%s%d-%d-dropped", tmpPrefix, s.clock().UnixNano(), os.Getpid())
	if err := writeFileDurable(s.Dir, tmp, name, []byte(strconv.FormatInt(total, 10)+"\n"), 0o600); err != nil {
		s.Log.Errorf("could not count %d dropped payloads in %s: %v", n, filepath.Join(s.Dir, droppedName), err)
	}
}

// setBackoff records that the collector asked not to be sent anything
// before until.
func (s *Spool) setBackoff(until time.Time) {
	if s.Dir == "" {
		return
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return
	}
	tmp := fmt.Sprintf("%s%d-%d-retry", tmpPrefix, s.clock().UnixNano(), os.Getpid())
	_ = writeFileAtomic(s.Dir, tmp, backoffName, []byte(strconv.FormatInt(until.UnixNano(), 10)), 0o600)
}

// backoff returns the time before which the collector asked not to be sent
// anything. A Retry-After is recorded as at most maxBackoff from the time
// it came, so a recorded time further than that from now was written
// before the clock was set back (or the file is damaged): capping it at
// now+maxBackoff would move the cap with the clock and hold every hook
// back until the clock caught up, so it is removed and taken as passed.
func (s *Spool) backoff() time.Time {
	if s.Dir == "" {
		return time.Time{}
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, backoffName))
	if err != nil {
		return time.Time{}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}
	}
	until := time.Unix(0, n)
	if until.After(s.clock().Add(maxBackoff)) {
		s.Log.Warnf("the collector's Retry-After recorded in %s ends at %s, more than %s from now: the clock was set back; trying the collector again",
			filepath.Join(s.Dir, backoffName), until.UTC().Format(time.RFC3339), maxBackoff)
		s.clearBackoff()
		return time.Time{}
	}
	return until
}

// clearBackoff removes the Retry-After record.
func (s *Spool) clearBackoff() {
	if s.Dir != "" {
		_ = os.Remove(filepath.Join(s.Dir, backoffName))
	}
}
