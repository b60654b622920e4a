package tailer

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// A session's state (Tracker.MarshalState) is JSON of about 1 kB, most of
// it the same keys and zero values in every session. It is stored as an
// s2 block compressed against a dictionary of such a state (stateDict),
// its bytes then Huffman-coded with a fixed table (stateHuffTable), behind
// a two-byte header: stateMagic, then the codec. About 240 bytes, under a
// quarter, which is what a finished session costs in the storage file
// and, once its pages are mapped, in the collector's memory. Not zstd,
// whose frames are as small: zstd copies its dictionary's 256 kB match
// table for every state it compresses, and packing was 5% of a backlog's
// CPU; s2 and a table that is not built per state cost a fifth of that.
//
// What earlier versions stored is read as it is: zstd frames against
// zstdStateDict (found by zstd's frame magic number) and plain JSON. The
// three are told apart by their first byte: JSON begins with '{' or
// white space, zstd's magic with 0x28, and stateMagic is 0xff, which is
// neither, nor valid UTF-8.

// stateMagic begins a state compressed by packState; the byte after it is
// the codec.
const stateMagic = 0xff

// The codecs. A new dictionary or table gets a new codec, and unpackState
// keeps the old ones.
const (
	// stateS2 is an s2 block against stateDict: a state whose block the
	// table would not make smaller.
	stateS2 = 1
	// stateS2Huff is the length of such a block (a uvarint), then the
	// block Huffman-coded (huff0, one stream) with stateHuffTable.
	stateS2Huff = 2
)

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

// stateHuffTable is a huff0 table of the bytes of s2 blocks of states
// (huff0.Compress1X's OutTable for the s2 blocks of the state after every
// event of the 28 transcripts under testdata/copilot-cli/recorded, 248 kB,
// followed by every byte value once, so that any block can be coded with
// it). It must not change. Held out from it, the end states of the other
// 27 transcripts under testdata/copilot-cli are stored in 247.5 bytes on
// average (zstd with zstdStateDict: 257.1, the s2 block alone: 313.4).
var stateHuffTable = mustHex("48109035850641108c2108025584201880cb00604fe3e06bd480bb77fd61637e7adb55a6dcf741c46469c2c1eba28021e75911111191f6af77956071a4dd48570811d1ff5799acd63e")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// newHuffScratch is a huff0 scratch that codes with stateHuffTable, and
// only with it.
func newHuffScratch() *huff0.Scratch {
	s, _, err := huff0.ReadTable(stateHuffTable, nil)
	if err != nil {
		panic(fmt.Sprintf("tailer: the session state table: %v", err)) // a constant
	}
	s.Reuse = huff0.ReusePolicyMust
	return s
}

// huffScratches are the coders of packState: a scratch is not safe for
// concurrent use.
var huffScratches = sync.Pool{New: func() any { return newHuffScratch() }}

var huffDecoder = sync.OnceValue(func() *huff0.Decoder { return newHuffScratch().Decoder() })

// packBuffers hold s2's worst case for packState; the buffer of a state
// over about 64 kB is not kept (maxPooledBuffer).
var packBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBuffer = 80 << 10

// packState is a session state as it is stored.
func packState(state []byte) []byte {
	if len(state) < minPackedState {
		return state
	}
	bp := packBuffers.Get().(*[]byte)
	if need := s2.MaxEncodedLen(len(state)); cap(*bp) < need {
		*bp = make([]byte, need)
	}
	if cap(*bp) <= maxPooledBuffer {
		defer packBuffers.Put(bp)
	}
	block := stateDict.Encode((*bp)[:cap(*bp)], state)

	hs := huffScratches.Get().(*huff0.Scratch)
	coded, reused, err := huff0.Compress1X(block, hs)
	if err != nil || !reused {
		// Not smaller with the table: huff0 leaves the table as it was.
		// After anything else the scratch is not used again.
		if errors.Is(err, huff0.ErrIncompressible) || errors.Is(err, huff0.ErrUseRLE) {
			huffScratches.Put(hs)
		}
		return append(append(make([]byte, 0, 2+len(block)), stateMagic, stateS2), block...)
	}
	defer huffScratches.Put(hs)
	n := 2 + uvarintLen(uint64(len(block))) + len(coded)
	if n >= 2+len(block) {
		return append(append(make([]byte, 0, 2+len(block)), stateMagic, stateS2), block...)
	}
	out := append(make([]byte, 0, n), stateMagic, stateS2Huff)
	out = binary.AppendUvarint(out, uint64(len(block)))
	return append(out, coded...)
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// unpackState is a stored session state as Tracker.UnmarshalState reads
// it: JSON, stored as it is by earlier versions or compressed by
// packState.
func unpackState(stored []byte) ([]byte, error) {
	switch {
	case len(stored) > 0 && stored[0] == stateMagic:
		out, err := unpackBlock(stored)
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

// unpackBlock decodes what packState compressed.
func unpackBlock(stored []byte) ([]byte, error) {
	if len(stored) < 2 {
		return nil, errors.New("no codec")
	}
	block := stored[2:]
	switch stored[1] {
	case stateS2:
	case stateS2Huff:
		n, k := binary.Uvarint(block)
		if k <= 0 || n == 0 || n > huff0.BlockSizeMax {
			return nil, s2.ErrCorrupt
		}
		var err error
		if block, err = huffDecoder().Decompress1X(make([]byte, 0, n), block[k:]); err != nil {
			return nil, err
		}
		if uint64(len(block)) != n {
			return nil, s2.ErrCorrupt
		}
	default:
		return nil, fmt.Errorf("unknown codec %d", stored[1])
	}
	if n, err := s2.DecodedLen(block); err != nil || n > maxStateSize {
		return nil, s2.ErrCorrupt
	}
	return stateDict.Decode(nil, block)
}
