package forwarder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
)

// A spool directory (--spool-dir) holds one spool per collector endpoint,
// in a directory of its own named after the endpoint:
//
//	<spool dir>/to-<hash>/          the spool of one endpoint (see Spool)
//	<spool dir>/to-<hash>/endpoint  the endpoint's URL
//	<spool dir>/*.hook              payloads of a forwarder older than this
//	                                layout, for no endpoint in particular
//
// A payload is replayed only to the endpoint it was spooled for, so that
// two hook configurations sending to two collectors (a user's own and a
// repository's .github/hooks), or an endpoint changed while payloads wait,
// never deliver one collector's payloads to another, which would count
// them again. Each endpoint's spool has its own bounds, lock, Retry-After,
// drainer and identity. Payloads of an older forwarder are adopted by the
// next forwarder that runs, whatever its endpoint, as that forwarder would
// have replayed them.
const (
	endpointDirPrefix = "to-"
	endpointFile      = "endpoint"
)

// EndpointDir is the name of the directory, in a spool directory, of the
// spool of payloads for endpoint.
func EndpointDir(endpoint string) string {
	sum := sha256.Sum256([]byte(normalizeEndpoint(endpoint)))
	return endpointDirPrefix + hex.EncodeToString(sum[:8])
}

// normalizeEndpoint spells an endpoint one way: scheme and host in lower
// case, no trailing slash.
func normalizeEndpoint(endpoint string) string {
	e := strings.TrimRight(endpoint, "/")
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return e
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return strings.TrimRight(u.String(), "/")
}

// EndpointSpool is the spool of one endpoint's payloads in a spool
// directory.
type EndpointSpool struct {
	// Endpoint is the collector the payloads are for; "" for payloads of
	// an older forwarder, which record none.
	Endpoint string
	Dir      string
	Stats    Stats
}

// Spools lists the spools in the spool directory root: the payloads of an
// older forwarder (Endpoint ""), when there are any, then each endpoint's
// spool, by endpoint.
func Spools(root string) ([]EndpointSpool, error) {
	var out []EndpointSpool
	legacy := &Spool{Dir: root}
	st, err := legacy.Stats()
	if err != nil {
		return nil, err
	}
	if st.Payloads > 0 || st.Dropped > 0 {
		out = append(out, EndpointSpool{Dir: root, Stats: st})
	}
	des, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	var errs []error
	var spools []EndpointSpool
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), endpointDirPrefix) {
			continue
		}
		dir := filepath.Join(root, de.Name())
		sp := EndpointSpool{Dir: dir, Endpoint: "(unknown: no " + endpointFile + " file)"}
		if b, err := os.ReadFile(filepath.Join(dir, endpointFile)); err == nil {
			sp.Endpoint = strings.TrimSpace(string(b))
		}
		sp.Stats, err = (&Spool{Dir: dir}).Stats()
		if err != nil {
			errs = append(errs, err)
		}
		spools = append(spools, sp)
	}
	slices.SortFunc(spools, func(a, b EndpointSpool) int { return strings.Compare(a.Endpoint, b.Endpoint) })
	return append(out, spools...), errors.Join(errs...)
}

// noteEndpoint writes the endpoint's URL in its spool's directory, for
// drain and status to name it, unless it is there.
func (s *Spool) noteEndpoint() {
	if s.Endpoint == "" {
		return
	}
	path := filepath.Join(s.Dir, endpointFile)
	if _, err := os.Stat(path); err == nil {
		return
	}
	_ = writeFileAtomic(s.Dir, tmpPrefix+NewID()+"-endpoint", endpointFile, []byte(s.Endpoint+"\n"), 0o600)
}

// adoptLegacy moves the payloads an older forwarder spooled in the spool
// directory itself (which record no endpoint) into this forwarder's spool,
// behind nothing of its own: they keep their names, which sort before
// anything spooled since. It does nothing unless it gets the older
// forwarders' lock, so that it never takes a payload one of them is
// sending.
func (f *Forwarder) adoptLegacy() {
	old := f.Legacy
	if old == nil || old.Dir == "" || old.Dir == f.Spool.Dir {
		return
	}
	items, err := old.list()
	if err != nil || len(items) == 0 {
		return
	}
	l, held, err := old.lock()
	if err != nil || !held {
		return
	}
	defer l.Unlock()
	items, err = old.list()
	if err != nil {
		return
	}
	items = old.recover(items, filelock.IsReal)
	if err := os.MkdirAll(f.Spool.Dir, 0o700); err != nil {
		return
	}
	f.Spool.noteEndpoint()
	n := 0
	for _, it := range items {
		if it.claimed {
			continue
		}
		if err := os.Rename(filepath.Join(old.Dir, it.name), filepath.Join(f.Spool.Dir, it.base)); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.Log.Warnf("could not move payload %s of an older forwarder into the spool %s: %v", it.id, f.Spool.Dir, err)
			}
			continue
		}
		n++
	}
	if n > 0 {
		f.Log.Infof("took %d payloads an older forwarder spooled in %s, for no endpoint in particular, to send them to %s", n, old.Dir, f.Client.Endpoint)
	}
}
