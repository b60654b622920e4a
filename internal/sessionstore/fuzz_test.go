package sessionstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen: whatever bytes the store file holds, Open and the queries
// return usage or an error, and never panic. Damage SQLite does not
// notice may read as rows; anything else must be one of the sentinels or
// a plain error.
func FuzzOpen(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("SQLite format 3\x00"))
	f.Add([]byte{})
	// The fixture with bytes changed in its header, its schema page and a
	// data page.
	for _, at := range []int{18, 28, 100, 4096 + 8, len(b) - 4096} {
		d := append([]byte(nil), b...)
		d[at] ^= 0xff
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err != nil {
			if s != nil {
				t.Fatal("a store with an error")
			}
			return
		}
		defer s.Close()
		ctx := context.Background()
		if _, _, err := s.SessionUsage(ctx, subagentSession); err != nil && errors.Is(err, ErrNoStore) {
			t.Fatalf("the file is there: %v", err)
		}
		if _, err := s.Rows(ctx, 0, 100); err != nil && errors.Is(err, ErrNoStore) {
			t.Fatalf("the file is there: %v", err)
		}
	})
}
