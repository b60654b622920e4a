package tailer

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A session's state (Tracker.MarshalState) is JSON of about 1.1 kB, most
// of it the same keys and zero values in every session. It is stored
// compressed with zstd against a dictionary of such a state: about 270
// bytes, a quarter, which is what a finished session costs in the storage
// file and, once its pages are mapped, in the collector's memory. States
// stored by earlier versions, plain JSON, are read as they are; a state is
// told from JSON by zstd's frame magic number, which JSON cannot begin
// with.

// stateDictID names stateDict in each frame; a new dictionary gets a new
// id, and the decoder keeps the old ones.
const stateDictID = 1

// stateDict is a session state of no particular session: keys, their
// order and common values, so that a small state compresses well.
var stateDict = []byte(`{"v":1,"s":{"sid":"00000000-0000-0000-0000-000000000000","ctx":{"SessionID":"00000000-0000-0000-0000-000000000000","CLIVersion":"1.0.102","Cwd":"/home/dev/src/payments-api","GitRoot":"/home/dev/src/payments-api","Repository":"acme/payments-api","RepositoryHost":"github.com","Branch":"feature/","HeadCommit":"0000000000000000000000000000000000000000"},"started":true,"legs":1,"legStart":"2026-01-01T00:00:00.000Z","legCum":true,"legSpanDone":true,"legRecords":4,"legUserMsgs":1,"userMsgs":1,"records":4,"model":"claude-sonnet-4.6","counted":[{"a":"main","m":"gpt-5.3-codex","u":{"in":10000,"out":1000,"cr":10000,"cw":1000,"rs":100,"req":4,"ureq":1,"ms":10000,"nano":1000000000,"cost":1,"req":4}}],"legCounted":[{"a":"main","m":"gpt-4.1","u":{"in":10000,"out":1000,"cr":10000,"rs":100,"req":4,"ureq":1,"ms":10000}}],"code":{},"lastCheckpoint":"0001-01-01T00:00:00Z","seen":{"00000000-0000-0000-0000-000000000000":{"low":4}},"lastEvent":"2026-01-01T00:00:00.000Z","replayUntil":"0001-01-01T00:00:00Z","startTime":"2026-01-01T00:00:00.000Z","lastCallIn":10000,"lastCallOut":1000,"lastCallModel":"gpt-5-mini"}}`)

// minPackedState is the smallest state worth compressing.
const minPackedState = 128

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var stateCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), zstd.WithEncoderDictRaw(stateDictID, stateDict))
	if err != nil {
		panic(fmt.Sprintf("tailer: the session state encoder: %v", err)) // options are constants
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20),
		zstd.WithDecoderDictRaw(stateDictID, stateDict))
	if err != nil {
		panic(fmt.Sprintf("tailer: the session state decoder: %v", err))
	}
	return enc, dec
})

// packState is a session state as it is stored.
func packState(state []byte) []byte {
	if len(state) < minPackedState {
		return state
	}
	enc, _ := stateCodec()
	return enc.EncodeAll(state, make([]byte, 0, len(state)/3))
}

// unpackState is a stored session state as Tracker.UnmarshalState reads
// it: JSON, stored as it is by earlier versions or compressed by
// packState.
func unpackState(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	_, dec := stateCodec()
	out, err := dec.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompressing session state: %w", err)
	}
	return out, nil
}
