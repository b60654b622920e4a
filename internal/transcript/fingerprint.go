package transcript

import (
	"crypto/sha256"
	"errors"
	"io"
	"os"
)

// FingerprintSize is how much of a transcript's start identifies it. The
// first line (session.start) holds the session id and its start time, so
// two transcripts never share it.
const FingerprintSize = 512

// Fingerprint identifies a transcript file by a hash of its first bytes, so
// that a file replaced under the same name is told from one that grew.
//
// It also remembers a hash of the bytes just before the offset read to
// (the tail mark), so that a file rewritten in place with the same start —
// a line inserted or removed before that offset — is told from one that
// only grew.
type Fingerprint struct {
	Len  int
	Hash [32]byte

	// TailAt is the offset the tail mark ends at; TailLen bytes before it
	// hash to Tail. TailLen 0 means no mark.
	TailAt  int64
	TailLen int
	Tail    [32]byte
}

// TailSize is how many bytes before the read offset the tail mark covers.
const TailSize = 256

// MarkTail remembers the bytes of f just before offset at, for the next
// Check with readTo == at.
func (fp *Fingerprint) MarkTail(f io.ReaderAt, at int64) error {
	n := int64(TailSize)
	if at < n {
		n = at
	}
	fp.TailAt, fp.TailLen = 0, 0
	if n == 0 {
		return nil
	}
	h, m, err := hashRange(f, at-n, int(n))
	if err != nil {
		return err
	}
	if m < int(n) {
		return nil // shorter than thought: no mark, the next Check decides
	}
	fp.TailAt, fp.TailLen, fp.Tail = at, m, h
	return nil
}

// SetPrefix fingerprints a file by its first bytes, given: the first
// min(FingerprintSize, size) of them (more are fine), as Check reads them.
// It is for a file read from its start, whose first bytes the caller reads
// anyway.
func (fp *Fingerprint) SetPrefix(first []byte) {
	first = first[:min(len(first), FingerprintSize)]
	fp.Len, fp.Hash = len(first), sha256.Sum256(first)
}

// MarkTailFrom is MarkTail given the bytes of the file just before at: the
// last min(at, TailSize) of them, or more. It reports whether before held
// that many; when it did not, it marks nothing, and the caller uses
// MarkTail.
func (fp *Fingerprint) MarkTailFrom(at int64, before []byte) bool {
	n := int(min(at, TailSize))
	if at < 0 || len(before) < n {
		return false
	}
	fp.TailAt, fp.TailLen = 0, 0
	if n > 0 {
		fp.TailAt, fp.TailLen, fp.Tail = at, n, sha256.Sum256(before[len(before)-n:])
	}
	return true
}

// Check reports whether the file of the given size is still the file that
// was read up to readTo: no shorter than that, and starting with the
// fingerprinted bytes. It then extends the fingerprint to up to
// FingerprintSize bytes. A file that is not the same (truncated or
// replaced) gets a fresh fingerprint of its own, kept for the next Check;
// the caller reads it again from the start.
func (fp *Fingerprint) Check(f io.ReaderAt, size, readTo int64) (same bool, err error) {
	same = size >= readTo
	if !same {
		*fp = Fingerprint{}
	}
	if fp.Len > 0 {
		h, n, err := hashPrefix(f, fp.Len)
		if err != nil {
			return false, err
		}
		if n < fp.Len || h != fp.Hash {
			same = false
			*fp = Fingerprint{}
		}
	}
	if same && fp.TailLen > 0 && fp.TailAt == readTo {
		h, n, err := hashRange(f, readTo-int64(fp.TailLen), fp.TailLen)
		if err != nil {
			return false, err
		}
		if n < fp.TailLen || h != fp.Tail {
			same = false
			*fp = Fingerprint{}
		}
	}
	if fp.Len < FingerprintSize && size > int64(fp.Len) {
		h, n, err := hashPrefix(f, FingerprintSize)
		if err != nil {
			return same, err
		}
		fp.Len, fp.Hash = n, h
	}
	return same, nil
}

func hashPrefix(f io.ReaderAt, n int) ([32]byte, int, error) { return hashRange(f, 0, n) }

// hashRange hashes the n bytes of f at off, or as many of them as f has,
// and returns how many that was.
//
// It runs for every transcript opened and every read finished, so its
// buffer is an array on the stack rather than one allocated per call. The
// array stays on the stack only when ReadAt is called on the concrete
// *os.File (what Cursor passes): given to an interface method, it would
// escape to the heap.
func hashRange(f io.ReaderAt, off int64, n int) ([32]byte, int, error) {
	var (
		m   int
		err error
		sum [32]byte
	)
	if fh, ok := f.(*os.File); ok && n <= rangeMax {
		var buf [rangeMax]byte
		m, err = fh.ReadAt(buf[:n], off)
		sum = sha256.Sum256(buf[:m])
	} else {
		buf := make([]byte, n)
		m, err = f.ReadAt(buf, off)
		sum = sha256.Sum256(buf[:m])
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return [32]byte{}, 0, err
	}
	return sum, m, nil
}

// rangeMax is the most hashRange reads: the fingerprint or the tail mark.
// (A stored checkpoint may claim a longer tail mark; hashRange reads that
// into a buffer of its own.)
const rangeMax = max(FingerprintSize, TailSize)
