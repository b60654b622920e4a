package budget

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
)

// clock is a fake clock.
type clock = fakeclock.Clock

func newClock(t time.Time) *clock { return fakeclock.New(t) }

// plainStore has only what Store asks for (no Batch, no Walk), and fails
// on demand.
type plainStore struct {
	mu               sync.Mutex
	m                map[string][]byte
	failGet, failSet error
	gets, sets, dels int
}

func newPlainStore() *plainStore { return &plainStore{m: map[string][]byte{}} }

func (s *plainStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.failGet != nil {
		return nil, s.failGet
	}
	return s.m[key], nil
}

func (s *plainStore) Set(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.sets++
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *plainStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet != nil {
		return s.failSet
	}
	s.dels++
	delete(s.m, key)
	return nil
}

func (s *plainStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *plainStore) get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.m[key])
}

var errBroken = errors.New("store broken")

func usd(s string) money.Amount { return money.MustParse(s) }

func teamSpend(team, amount string, at time.Time) Spend {
	return Spend{Time: at, Scopes: map[string]string{ScopeTeam: team, ScopeUser: "dev"}, Amount: usd(amount)}
}

func thresholdsOf(cs []Crossing) []float64 {
	out := []float64{}
	for _, c := range cs {
		out = append(out, c.Threshold)
	}
	return out
}

func newTracker(t *testing.T, budgets []Config, store Store, c *clock, opts ...Option) *Tracker {
	t.Helper()
	tr, err := New(budgets, store, c.Now, opts...)
	require.NoError(t, err)
	return tr
}

func add(t *testing.T, tr *Tracker, s Spend) []Crossing {
	t.Helper()
	cs, err := tr.Add(context.Background(), s)
	require.NoError(t, err)
	return cs
}
