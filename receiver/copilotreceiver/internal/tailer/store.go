package tailer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// Storage keys. A transcript's checkpoint (a session.Checkpoint) is under
// checkpointPrefix and its path, its session's state (Tracker.MarshalState,
// compressed by packState) under sessionPrefix and its path; the round
// being delivered, under roundKey. These keys are those of every earlier
// version, and a state stored as plain JSON by one is read as it is.
// Versions up to 9af8468 stored no state under sessionPrefix but in the
// checkpoint, as its "session" field (legacyCheckpoint): it is read from
// there while the transcript's first commit by this version has not moved
// it.
const (
	checkpointPrefix = "transcript:"
	sessionPrefix    = "session:"
	roundKey         = "round"
)

// checkpoints keeps what the tailer commits in a storage client: each
// transcript's checkpoint, read once per transcript, and its session's
// state beside it, read only when the transcript grows, so that a rescan
// of thousands of finished sessions reads no session state; and the round
// under delivery. It is safe for concurrent use, as the client is: the
// tailer writes, and Sessions reads what was committed.
type checkpoints struct{ client storage.Client }

// load reads a transcript's checkpoint; false when there is none.
func (s checkpoints) load(ctx context.Context, path string) (session.Checkpoint, bool, error) {
	var cp session.Checkpoint
	found, err := storageclient.LoadJSON(ctx, s.client, checkpointPrefix+path, &cp)
	if err != nil {
		return cp, false, fmt.Errorf("reading checkpoint: %w", err)
	}
	return cp, found, nil
}

// loadMany reads the checkpoints of files in one batch. found[i] is nil
// when the i-th checkpoint is not readable (load tells why).
func (s checkpoints) loadMany(ctx context.Context, files []*file) ([]session.Checkpoint, []*bool, error) {
	ops := make([]*storage.Operation, len(files))
	for i, f := range files {
		ops[i] = storage.GetOperation(checkpointPrefix + f.path)
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		return nil, nil, err
	}
	cps := make([]session.Checkpoint, len(files))
	found := make([]*bool, len(files))
	yes, no := true, false
	for i, op := range ops {
		switch {
		case op.Value == nil:
			found[i] = &no
		case json.Unmarshal(op.Value, &cps[i]) == nil:
			found[i] = &yes
		}
	}
	return cps, found, nil
}

// state reads the state of a transcript's session; nil when there is none.
func (s checkpoints) state(ctx context.Context, path string) ([]byte, error) {
	b, err := s.client.Get(ctx, sessionPrefix+path)
	if err != nil {
		return nil, err
	}
	if b == nil {
		cp, err := s.client.Get(ctx, checkpointPrefix+path)
		if err != nil {
			return nil, err
		}
		return legacyState(cp), nil
	}
	return unpackState(b)
}

// legacyCheckpoint is the part of a checkpoint stored by versions up to
// 9af8468 that later ones store under sessionPrefix: the session's state
// (Tracker.MarshalState's JSON).
type legacyCheckpoint struct {
	Session json.RawMessage `json:"session"`
}

// legacyState is the session state in a stored checkpoint, as versions up
// to 9af8468 stored it; nil when there is none. Without it the transcript
// would be read from its start and its usage counted again.
func legacyState(cp []byte) []byte {
	var l legacyCheckpoint
	if cp == nil || !bytes.Contains(cp, []byte(`"session"`)) || json.Unmarshal(cp, &l) != nil || len(l.Session) == 0 || string(l.Session) == "null" {
		return nil
	}
	return l.Session
}

// committed reads a transcript's checkpoint and its session's state as one
// commit left them. The checkpoint is nil when there is none, or when it
// is not readable.
func (s checkpoints) committed(ctx context.Context, path string) (*session.Checkpoint, []byte, error) {
	cp, st := storage.GetOperation(checkpointPrefix+path), storage.GetOperation(sessionPrefix+path)
	if err := s.client.Batch(ctx, cp, st); err != nil {
		return nil, nil, err
	}
	if cp.Value == nil {
		return nil, nil, nil
	}
	var c session.Checkpoint
	if err := json.Unmarshal(cp.Value, &c); err != nil {
		return nil, nil, nil
	}
	if st.Value == nil {
		return &c, legacyState(cp.Value), nil
	}
	state, err := unpackState(st.Value)
	if err != nil {
		return nil, nil, err
	}
	return &c, state, nil
}

// saved is what a commit stores for one transcript; state nil is not
// stored.
type saved struct {
	path  string
	cp    session.Checkpoint
	state []byte
}

// commit stores the checkpoints of a round and clears the round, at once.
func (s checkpoints) commit(ctx context.Context, files []saved) error {
	ops := make([]*storage.Operation, 0, 2*len(files)+1)
	for _, f := range files {
		var buf [256]byte
		b := bytes.Clone(appendCheckpoint(buf[:0], &f.cp))
		if f.state != nil {
			ops = append(ops, storage.SetOperation(sessionPrefix+f.path, packState(f.state)))
		}
		ops = append(ops, storage.SetOperation(checkpointPrefix+f.path, b))
	}
	ops = append(ops, storage.DeleteOperation(roundKey))
	return s.client.Batch(ctx, ops...)
}

// appendCheckpoint appends cp's JSON, byte for byte what encoding/json
// writes of it (store_test.go compares the two), without its reflection:
// a commit writes the checkpoint of every file of a round.
func appendCheckpoint(b []byte, cp *session.Checkpoint) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(cp.Version), 10)
	b = append(b, `,"fpLen":`...)
	b = strconv.AppendInt(b, int64(cp.FPLen), 10)
	b = append(b, `,"fp":`...)
	b = appendJSONBytes(b, cp.FPHash)
	b = append(b, `,"off":`...)
	b = strconv.AppendInt(b, cp.Offset, 10)
	if cp.Open {
		b = append(b, `,"open":true`...)
	}
	if cp.TailLen != 0 {
		b = append(b, `,"tailLen":`...)
		b = strconv.AppendInt(b, int64(cp.TailLen), 10)
	}
	if len(cp.TailHash) > 0 {
		b = append(b, `,"tail":`...)
		b = appendJSONBytes(b, cp.TailHash)
	}
	return append(b, '}')
}

// appendJSONBytes appends p as encoding/json writes a []byte: base64 in
// quotes, null when nil.
func appendJSONBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

// forget deletes what is stored for a transcript that is gone.
func (s checkpoints) forget(ctx context.Context, path string) error {
	return s.client.Batch(ctx, storage.DeleteOperation(checkpointPrefix+path), storage.DeleteOperation(sessionPrefix+path))
}

// pendingRound records a round before its delivery begins: the files it
// read up to which offsets, the sessions it found idle, its read window, and
// the signals the pipeline already accepted. On start, the round is read
// again from the committed checkpoints and only the missing signals are
// delivered, with the same content and ids, so that nothing is lost and
// only the batch in flight at a crash is sent twice, identically.
type pendingRound struct {
	Files     map[string]int64 `json:"files"`
	Idle      []string         `json:"idle,omitempty"`
	Done      []string         `json:"done"`
	ReadStart int64            `json:"readStart,omitempty"` // unix ns
	ReadEnd   int64            `json:"readEnd,omitempty"`
}

// record stores the round under delivery.
func (s checkpoints) record(ctx context.Context, p pendingRound) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.client.Set(ctx, roundKey, b)
}

// pending reads the round that was under delivery; false when none was.
func (s checkpoints) pending(ctx context.Context) (pendingRound, bool, error) {
	var p pendingRound
	found, err := storageclient.LoadJSON(ctx, s.client, roundKey, &p)
	return p, found, err
}
