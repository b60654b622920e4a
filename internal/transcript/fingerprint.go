package transcript

import (
	"crypto/sha256"
	"errors"
	"io"
)

// FingerprintSize is how much of a transcript's start identifies it. The
// first line (session.start) holds the session id and its start time, so
// two transcripts never share it.
const FingerprintSize = 512

// Fingerprint identifies a transcript file by a hash of its first bytes, so
// that a file replaced under the same name is told from one that grew.
type Fingerprint struct {
	Len  int
	Hash [32]byte
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
	if fp.Len < FingerprintSize && size > int64(fp.Len) {
		h, n, err := hashPrefix(f, FingerprintSize)
		if err != nil {
			return same, err
		}
		fp.Len, fp.Hash = n, h
	}
	return same, nil
}

func hashPrefix(f io.ReaderAt, n int) ([32]byte, int, error) {
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return [32]byte{}, 0, err
	}
	return sha256.Sum256(buf[:m]), m, nil
}
