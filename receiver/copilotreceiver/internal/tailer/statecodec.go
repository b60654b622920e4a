package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// A session's state (Tracker.MarshalState) is JSON of about 1 kB, most of
// it the same keys and zero values in every session. It is stored as an
// s2 block compressed against a dictionary of such a state, behind a
// two-byte header (stateMagic, then the dictionary's id): about 300 bytes,
// under a third, which is what a finished session costs in the storage
// file and, once its pages are mapped, in the collector's memory. s2
// rather than zstd, whose frames are a fifth smaller, because zstd copies
// its dictionary's 256 kB match table for every state it compresses: an
// s2 block costs an eighth of the CPU, and packing was 5% of a backlog's.
//
// What earlier versions stored is read as it is: zstd frames against
// zstdStateDict (found by zstd's frame magic number) and plain JSON. The
// three are told apart by their first byte: JSON begins with '{' or
// white space, zstd's magic with 0x28, and stateMagic is 0xff, which is
// neither, nor valid UTF-8.

// stateMagic begins a state compressed by packState; the byte after it is
// the id of the dictionary it was compressed against.
const stateMagic = 0xff

// stateDictID names stateDict; a new dictionary gets a new id, and
// unpackState keeps the old ones.
const stateDictID = 1

// stateDict is a session state of no particular session: keys, their
// order and common values, so that a small state compresses well. The
// optional keys first, then a whole state: s2 prefers the later of two
// equal matches, and those of a whole state are the likelier ones.
var stateDict = s2.MakeDict(append([]byte(`"legOpen":true,"interaction":{"id":"00000000-0000-0000-0000-000000000000","start":"2026-01-01T00:00:00.000Z","last":"2026-01-01T00:00:00.000Z","turns":1,"abort":"user initiated","links":["00-00000000000000000000000000000000-0000000000000000-01"],"prompt":"","resp":""},"tools":{"call_":{"name":"bash","start":"2026-01-01T00:00:00.000Z","agent":"","parent":{"k":"turn","v":""},"mcp":"","args":""},"toolu_":{"name":"view"}},"subagents":{"toolu_":{"name":"explore","tool":"toolu_","model":"claude-haiku-4.5","start":"2026-01-01T00:00:00Z"}},"seenCalls":{"":true},"agents":{"00000000-0000-0000-0000-000000000000":"explore"},"pendingLinks":["00-00000000000000000000000000000000-0000000000000000-01"],"idleSummarized":"2026-01-01T00:00:00Z","m":"claude-opus-4.6","m":"claude-sonnet-4","m":"gpt-5-mini","m":"gpt-5.3-codex","m":"claude-sonnet-4.5","m":"gpt-4.1","code":{"add":1,"rm":1,"files":1},"high":[1,2]},"Repository":"","RepositoryHost":"","Branch":"main","HeadCommit":"`),
	zstdStateDict...), []byte(`{"v":1,"s":{"sid":"`))

// zstdStateDictID names zstdStateDict in the zstd frames earlier versions
// stored.
const zstdStateDictID = 1

// zstdStateDict is the dictionary of those frames. It must not change.
var zstdStateDict = []byte(`{"v":1,"s":{"sid":"00000000-0000-0000-0000-000000000000","ctx":{"SessionID":"00000000-0000-0000-0000-000000000000","CLIVersion":"1.0.102","Cwd":"/home/dev/src/payments-api","GitRoot":"/home/dev/src/payments-api","Repository":"acme/payments-api","RepositoryHost":"github.com","Branch":"feature/","HeadCommit":"0000000000000000000000000000000000000000"},"started":true,"legs":1,"legStart":"2026-01-01T00:00:00.000Z","legCum":true,"legSpanDone":true,"legRecords":4,"legUserMsgs":1,"userMsgs":1,"records":4,"model":"claude-sonnet-4.6","counted":[{"a":"main","m":"gpt-5.3-codex","u":{"in":10000,"out":1000,"cr":10000,"cw":1000,"rs":100,"req":4,"ureq":1,"ms":10000,"nano":1000000000,"cost":1,"req":4}}],"legCounted":[{"a":"main","m":"gpt-4.1","u":{"in":10000,"out":1000,"cr":10000,"rs":100,"req":4,"ureq":1,"ms":10000}}],"code":{},"lastCheckpoint":"0001-01-01T00:00:00Z","seen":{"00000000-0000-0000-0000-000000000000":{"low":4}},"lastEvent":"2026-01-01T00:00:00.000Z","replayUntil":"0001-01-01T00:00:00Z","startTime":"2026-01-01T00:00:00.000Z","lastCallIn":10000,"lastCallOut":1000,"lastCallModel":"gpt-5-mini"}}`)

// minPackedState is the smallest state worth compressing.
const minPackedState = 128

// maxStateSize bounds what a damaged header can make unpackState allocate.
const maxStateSize = 64 << 20

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var zstdStateDecoder = sync.OnceValue(func() *zstd.Decoder {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxStateSize),
		zstd.WithDecoderDictRaw(zstdStateDictID, zstdStateDict))
	if err != nil {
		panic(fmt.Sprintf("tailer: the session state decoder: %v", err)) // options are constants
	}
	return dec
})

// packBuffers hold s2's worst case, from which packState copies what it
// stores.
var packBuffers = sync.Pool{New: func() any { return new([]byte) }}

// packState is a session state as it is stored.
func packState(state []byte) []byte {
	if len(state) < minPackedState {
		return state
	}
	bp := packBuffers.Get().(*[]byte)
	need := 2 + s2.MaxEncodedLen(len(state))
	if cap(*bp) < need {
		*bp = make([]byte, need)
	}
	buf := (*bp)[:need]
	buf[0], buf[1] = stateMagic, stateDictID
	n := 2 + len(stateDict.Encode(buf[2:2], state))
	out := append(make([]byte, 0, n), buf[:n]...)
	packBuffers.Put(bp)
	return out
}

// unpackState is a stored session state as Tracker.UnmarshalState reads
// it: JSON, stored as it is by earlier versions or compressed by
// packState.
func unpackState(stored []byte) ([]byte, error) {
	switch {
	case len(stored) > 0 && stored[0] == stateMagic:
		if len(stored) < 2 || stored[1] != stateDictID {
			return nil, errors.New("decompressing session state: unknown format")
		}
		block := stored[2:]
		if n, err := s2.DecodedLen(block); err != nil || n > maxStateSize {
			return nil, fmt.Errorf("decompressing session state: %w", s2.ErrCorrupt)
		}
		out, err := stateDict.Decode(nil, block)
		if err != nil {
			return nil, fmt.Errorf("decompressing session state: %w", err)
		}
		return out, nil
	case bytes.HasPrefix(stored, zstdMagic):
		out, err := zstdStateDecoder().DecodeAll(stored, nil)
		if err != nil {
			return nil, fmt.Errorf("decompressing session state: %w", err)
		}
		return out, nil
	}
	return stored, nil
}
