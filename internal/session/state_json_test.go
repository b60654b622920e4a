package session

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// recordedTranscripts are the transcripts of real CLI runs and of the
// reader's hazards, read by the state tests.
func recordedTranscripts(tb testing.TB) []string {
	var paths []string
	walk := func(root string, keep func(name string) bool) {
		require.NoError(tb, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && keep(d.Name()) {
				paths = append(paths, path)
			}
			return nil
		}))
	}
	walk("../../testdata/copilot-cli", func(name string) bool { return name == "events.jsonl" })
	walk("../transcript/testdata", func(name string) bool { return strings.HasSuffix(name, ".jsonl") })
	require.NotEmpty(tb, paths)
	return paths
}

// eachRecordedState reads every recorded transcript through a Cursor and
// calls f with its tracker after every event, so that f sees states with
// interactions, tools and subagents open as well as finished sessions.
func eachRecordedState(tb testing.TB, f func(path string, tr *Tracker)) {
	for _, path := range recordedTranscripts(tb) {
		c := NewCursor(path, CursorOptions{})
		_, err := c.Update(func(*transcript.Event) { f(path, c.Tracker()) })
		require.NoError(tb, err, path)
	}
}

// finishedStates are the trackers of the recorded transcripts read to
// their end, as a backlog of finished sessions leaves them.
func finishedStates(tb testing.TB) []*Tracker {
	var trs []*Tracker
	for _, path := range recordedTranscripts(tb) {
		c := NewCursor(path, CursorOptions{})
		_, err := c.Update(nil)
		require.NoError(tb, err, path)
		trs = append(trs, c.Tracker())
	}
	return trs
}

// BenchmarkMarshalState marshals the state of every recorded session, as
// the tailer does for each session of a round it commits.
func BenchmarkMarshalState(b *testing.B) {
	trs := finishedStates(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := trs[i%len(trs)].MarshalState(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalStateIsEncodingJSON: MarshalState writes, byte for byte, what
// encoding/json writes of the same state, for the state after every event
// of every recorded transcript; and Restore reads it back to the same
// state.
func TestMarshalStateIsEncodingJSON(t *testing.T) {
	n := 0
	var prev, prevCopy []byte
	eachRecordedState(t, func(path string, tr *Tracker) {
		n++
		want, err := json.Marshal(persisted{Version: stateVersion, State: tr.st})
		require.NoError(t, err)
		got, err := tr.MarshalState()
		require.NoError(t, err)
		// What MarshalState returned is the caller's: the next call
		// does not write over it.
		require.Equal(t, string(prevCopy), string(prev), "%s, state %d", path, n-1)
		if !assert.Equal(t, string(want), string(got), "%s, state %d", path, n) {
			t.FailNow()
		}
		back, err := Restore(got, Options{})
		require.NoError(t, err)
		again, err := back.MarshalState()
		require.NoError(t, err)
		require.Equal(t, string(got), string(again), "%s, state %d", path, n)
		prev, prevCopy = got, bytes.Clone(got)
	})
	t.Logf("%d states compared", n)
}

// TestMarshalStateOfAnyState: the same for states whose every field,
// found by reflection so that a field added later is covered too, holds
// values the recorded ones do not: strings JSON escapes or that are not
// UTF-8, floats printed with exponents, times in other zones, nil and
// empty maps, lists and pointers.
func TestMarshalStateOfAnyState(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var st state
		fillRandom(r, reflect.ValueOf(&st).Elem())
		want, werr := json.Marshal(persisted{Version: stateVersion, State: st})
		got, gerr := appendState(nil, &st)
		if werr != nil {
			require.Error(t, gerr, "state %d: encoding/json: %v", i, werr)
			continue
		}
		require.NoError(t, gerr, "state %d", i)
		require.Equal(t, string(want), string(got), "state %d", i)
	}

	// What JSON cannot hold fails, as with encoding/json, and MarshalState
	// returns encoding/json's error.
	for name, st := range map[string]state{
		"NaN cost":      {Counted: ledger{{Agent: MainAgent}: {PremiumCost: math.NaN()}}},
		"infinite cost": {LegCounted: ledger{{Agent: MainAgent}: {PremiumCost: math.Inf(-1)}}},
		"year 10000":    {LastEvent: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year -1":       {Tools: map[string]*openTool{"t": {Start: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		"zone +24:00":   {StartTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
	} {
		_, err := appendState(nil, &st)
		assert.Error(t, err, name)
		_, want := json.Marshal(persisted{Version: stateVersion, State: st})
		require.Error(t, want, name)
		tr := &Tracker{st: st}
		_, err = tr.MarshalState()
		assert.EqualError(t, err, want.Error(), name)
	}
}

// FuzzMarshalStateStrings: any string and cost are written as
// encoding/json writes them.
func FuzzMarshalStateStrings(f *testing.F) {
	f.Add("main", "gpt-4.1", 0.33)
	f.Add("<script>&amp;</script>", "\u2028\u2029\x7f", 1e-7)
	f.Add("\x00\x1f\"\\\b\f\n\r\t", "\xff\xfe\xc3", 1e21)
	f.Add("é🙂\U0010FFFF", "\xed\xa0\x80", -5e-324)
	f.Fuzz(func(t *testing.T, a, b string, cost float64) {
		st := state{
			SessionID: a, Ctx: Context{Branch: b}, Model: a + b,
			Counted:    ledger{{Agent: a, Model: b}: {PremiumCost: cost}, {Agent: b}: {Requests: 1}},
			AgentNames: map[string]string{a: b, b: a},
			Tools:      map[string]*openTool{b: {Name: a, Parent: spanKey{Kind: a, Key: b}, Arguments: b}},
		}
		want, werr := json.Marshal(persisted{Version: stateVersion, State: st})
		got, gerr := appendState(nil, &st)
		if werr != nil {
			require.Error(t, gerr)
			return
		}
		require.NoError(t, gerr)
		require.Equal(t, string(want), string(got))
	})
}

var (
	randomStrings = []string{"", "main", "gpt-4.1", "a b", "<a&b>", "\u2028x\u2029", "\x00\x1f\x7f", `"\`,
		"\b\f\n\r\t", "\xff", "a\xc3", "é", "🙂", "\ufeff", "\U0010FFFF", "\xed\xa0\x80", "/home/dev/src"}
	randomFloats = []float64{0, math.Copysign(0, -1), 0.33, 1, 2.5, -2.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21,
		123456789.123, 5e-324, math.MaxFloat64, 1.0 / 3}
	randomInts  = []int64{0, 1, -1, 42, 1 << 40, math.MaxInt64, math.MinInt64}
	randomZones = []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("", -8*3600),
		time.FixedZone("", 23*3600+59*60+59)}
	timeType   = reflect.TypeFor[time.Time]()
	ledgerType = reflect.TypeFor[ledger]()
)

// fillRandom sets v, and every exported field, element and pointee in it,
// to a value drawn from r.
func fillRandom(r *rand.Rand, v reflect.Value) {
	pick := func(n int) int { return r.IntN(n) }
	switch {
	case v.Type() == timeType:
		if pick(4) == 0 {
			return // the zero time
		}
		t := time.Date(1+pick(9999), time.Month(1+pick(12)), 1+pick(28), pick(24), pick(60), pick(60),
			[]int{0, 1, 100e6, 123456789, 999999999}[pick(5)], randomZones[pick(len(randomZones))])
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		s := randomStrings[pick(len(randomStrings))]
		if pick(2) == 0 {
			s += randomStrings[pick(len(randomStrings))]
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(randomInts[pick(len(randomInts))])
	case reflect.Float64:
		v.SetFloat(randomFloats[pick(len(randomFloats))])
	case reflect.Bool:
		v.SetBool(pick(2) == 0)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(r, v.Field(i))
			}
		}
	case reflect.Pointer:
		if pick(4) == 0 && v.Type().Elem().Kind() == reflect.Struct && v.Type() != reflect.TypeFor[*Usage]() {
			return // nil, except in a ledger
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(r, v.Elem())
	case reflect.Slice:
		switch pick(3) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + pick(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fillRandom(r, v.Index(i))
			}
		}
	case reflect.Map:
		if pick(3) == 0 && v.Type() != ledgerType {
			return // nil
		}
		v.Set(reflect.MakeMap(v.Type()))
		for range pick(4) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fillRandom(r, k)
			fillRandom(r, e)
			if v.Type() == ledgerType && e.IsNil() {
				e.Set(reflect.New(e.Type().Elem()))
			}
			v.SetMapIndex(k, e)
		}
	default:
		panic("fillRandom: no values for " + v.Type().String())
	}
}
