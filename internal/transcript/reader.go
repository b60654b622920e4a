package transcript

import (
	"bytes"
	"errors"
	"io"
)

// Item is what the reader found at one place in a transcript: an event, or
// a skipped line with the reason.
type Item struct {
	Event *Event
	Skip  *DecodeError
	// Repaired is set on an event that was read from a damaged line: a
	// line split by a raw newline inside a string, the intact event after
	// a torn fragment, or an event that carries usage but no valid
	// timestamp. Such an event has a zero Timestamp; package session
	// counts it at the time of the event before it, so that its usage is
	// not lost to a missing time.
	Repaired bool
	// End is the file offset from which reading resumes after this item.
	// When one line yields several items, only the last one moves End past
	// the line, so that resuming at any item's End reads nothing twice
	// except skips of the same line.
	End int64
}

// DefaultMaxLineSize is the longest line read by default. Real transcripts
// hold lines of a few MB (system prompts, tool output).
const DefaultMaxLineSize = 16 << 20

const readChunk = 256 << 10

// tornMarker is how every event line the CLI writes begins; the intact
// event glued behind a torn fragment is found by it.
var tornMarker = []byte(`{"type":"`)

// maxTornCandidates bounds the places a damaged line is retried from, so a
// hostile line costs linear time.
const maxTornCandidates = 4

// Reader reads the items of a transcript from an offset on. It consumes
// complete lines only: an incomplete last line stays unread until its
// newline arrives, unless Final says that the file is finished.
type Reader struct {
	src     io.Reader
	opts    Options
	maxLine int
	// chunk is the free space a read is given (readChunk; tests make it
	// small, so that a short input costs no large buffer).
	chunk int

	buf    []byte // unconsumed bytes are buf[start:]
	start  int
	offset int64 // file offset of buf[start]
	srcEOF bool
	queue  []Item
	slab   []Event // events not handed out yet (newEvent)
	st     *decodeState

	// Final makes the reader decide an incomplete last line at the end of
	// the input instead of waiting for more: a complete event is read, a
	// fragment skipped as torn. Set it for a file that will not grow.
	Final bool
}

// NewReader returns a reader of src, whose first byte is at file offset
// offset. maxLine <= 0 means DefaultMaxLineSize.
func NewReader(src io.Reader, offset int64, maxLine int, opts Options) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineSize
	}
	return &Reader{src: src, offset: offset, maxLine: maxLine, opts: opts, chunk: readChunk, st: new(decodeState)}
}

// Reset makes the reader read src from file offset offset, with Final
// unset, keeping its buffer: a caller that reads many files one after the
// other allocates it once. A buffer grown for a line of up to about 1.5
// MB (system prompts, large tool output: common) is kept, up to 2 MiB;
// one grown for a longer line is let go.
func (r *Reader) Reset(src io.Reader, offset int64) {
	buf := r.buf[:0]
	if cap(buf) > 8*r.chunk {
		buf = nil
	}
	st := r.st
	if st == nil {
		st = new(decodeState)
	}
	st.stack = memberStack{} // holds no line of the buffer let go
	*r = Reader{src: src, offset: offset, maxLine: r.maxLine, opts: r.opts, chunk: r.chunk, buf: buf, queue: r.queue[:0], slab: r.slab, st: st}
}

// Offset is the file offset just after the last consumed line.
func (r *Reader) Offset() int64 { return r.offset }

// Source is where the reader reads from: the source given to NewReader or
// to the last Reset.
func (r *Reader) Source() io.Reader { return r.src }

// Before returns the n bytes of the input just before file offset at when
// the reader's buffer still holds them, and nil when it does not. They are
// the reader's, valid until its next Next or Reset. The buffer keeps at
// least keepBehind bytes before the unconsumed ones once it has read them,
// so that the tail mark of a read that has just ended (Fingerprint) need
// not be read from the file again.
func (r *Reader) Before(at int64, n int) []byte {
	base := r.offset - int64(r.start) // the file offset of buf[0]
	if n < 0 || at-int64(n) < base || at > base+int64(len(r.buf)) {
		return nil
	}
	i := int(at - base)
	return r.buf[i-n : i : i]
}

// Peek returns the first n bytes of the input not consumed yet, or all of
// them when the input ends sooner, without consuming them. It reads the
// source until it has them. They are the reader's, valid until its next
// Next or Reset.
func (r *Reader) Peek(n int) ([]byte, error) {
	for len(r.buf)-r.start < n && !r.srcEOF {
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	b := r.buf[r.start:]
	b = b[:min(n, len(b))]
	return b[:len(b):len(b)], nil
}

// keepBehind is how many consumed bytes fill keeps in the buffer (Before).
const keepBehind = TailSize

// Next returns the next item, or io.EOF when no complete line is left.
// Other errors come from the source. After io.EOF, a later call reads the
// source again, so that a reader of a file that grows sees what was
// appended.
func (r *Reader) Next() (Item, error) {
	it, err := r.next()
	if err == io.EOF {
		r.srcEOF = false
	}
	return it, err
}

func (r *Reader) next() (Item, error) {
	for {
		if len(r.queue) > 0 {
			// Shifted, not resliced, so that the queue keeps its array:
			// it holds one or two items, and appending to a slice whose
			// start moved would allocate a new one for every line.
			it := r.queue[0]
			r.queue = r.queue[:copy(r.queue, r.queue[1:])]
			return it, nil
		}
		line, n, err := r.line(0)
		if err != nil {
			if len(r.queue) > 0 {
				continue
			}
			return Item{}, err
		}
		if line == nil { // an over-long line was discarded
			r.consume(n)
			return Item{Skip: &DecodeError{Reason: ReasonLineTooLong, Err: errors.New("line longer than the limit")}, End: r.offset}, nil
		}
		if done, err := r.decodeLine(line, n); done || err != nil {
			return Item{}, err
		}
	}
}

// decodeLine turns one physical line (n bytes with its terminator) into
// queued items. It returns done=false without consuming anything when the
// line's fate depends on a line that has not arrived yet.
func (r *Reader) decodeLine(line []byte, n int) (bool, error) {
	lineStart := r.offset
	body := line
	nuls := 0
	for nuls < len(body) && body[nuls] == 0 {
		nuls++
	}
	body = body[nuls:]
	if nuls > 0 {
		r.queue = append(r.queue, Item{Skip: &DecodeError{Reason: ReasonNULBytes, Err: errors.New("NUL bytes before the event")}, End: lineStart})
	}
	if skipSpace(body, 0) == len(body) { // blank: JSON white space only
		r.consume(n)
		if len(r.queue) > 0 {
			r.queue[len(r.queue)-1].End = r.offset
		}
		return false, nil
	}
	ev, err := r.decode(body)
	if err == nil || timeless(&ev, err) {
		r.consume(n)
		r.queue = append(r.queue, Item{Event: r.newEvent(ev), Repaired: err != nil, End: r.offset})
		return false, nil
	}
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != ReasonInvalidJSON {
		r.consume(n)
		r.queue = append(r.queue, Item{Skip: de, End: r.offset})
		return false, nil
	}
	cutShort := errors.Is(de.Err, errUnexpectedEnd)
	if cutShort {
		// Either a string holds a raw newline and the event continues on
		// the next line, or the line was cut short.
		it, used, ok, err := r.join(body, n)
		if err != nil {
			r.queue = r.queue[:0]
			return true, err
		}
		if ok {
			r.consume(used)
			it.End = r.offset
			r.queue = append(r.queue, it)
			return false, nil
		}
		// Reading ahead may have compacted the buffer under body: the
		// line, still unconsumed, starts again at r.start.
		body = r.buf[r.start+nuls : r.start+nuls+len(body)]
	}
	// A torn fragment glued to the next event. The fragment usually makes
	// the line a syntax error, but one cut between a key and its value
	// takes the glued event for that value and ends early instead.
	for k, from := 0, 1; k < maxTornCandidates && from < len(body); k++ {
		i := bytes.Index(body[from:], tornMarker)
		if i < 0 {
			break
		}
		at := from + i
		if it, ok := whole(r.decode(body[at:])); ok {
			r.queue = append(r.queue, Item{Skip: &DecodeError{Reason: ReasonTornLine, Err: de.Err}, End: lineStart})
			r.consume(n)
			it.End = r.offset
			r.queue = append(r.queue, it)
			return false, nil
		}
		from = at + 1
	}
	r.consume(n)
	if cutShort {
		// A fragment: skip it; the next line is read on its own.
		de = &DecodeError{Reason: ReasonTornLine, Err: de.Err}
	}
	r.queue = append(r.queue, Item{Skip: de, End: r.offset})
	return false, nil
}

// whole turns the result of decoding a repaired piece of a damaged line
// into its item, and reports whether the piece was a whole JSON object: an
// event, or one skipped for its own reason (an unknown type, bad data),
// which is then counted once under that reason rather than as a damaged
// line. End is left to the caller.
func whole(ev Event, err error) (Item, bool) {
	if err == nil || timeless(&ev, err) {
		return Item{Event: &ev, Repaired: true}, true
	}
	var de *DecodeError
	if errors.As(err, &de) && de.Reason != ReasonInvalidJSON {
		return Item{Skip: de}, true
	}
	return Item{}, false
}

// maxJoinDecodeFactor bounds the work of rejoining a line split by raw
// newlines: the decode attempts may scan at most this many times the
// joined text. An attempt is made only when a physical line closes a
// string, so this is also about the number of strings of one event that
// may hold raw newlines.
const maxJoinDecodeFactor = 16

// join tries to read first as the start of an event that continues on the
// following lines, split there by raw newlines inside a string. It returns
// the item the joined lines make (see whole) and the number of bytes they
// span, ok=false when the lines do not join into a JSON object, and io.EOF
// when the answer needs a line that has not arrived. first is a prefix of
// a JSON text that the scanner found valid up to its end.
//
// Only a string can hold a raw newline: the escape that stands in for it
// anywhere else is a syntax error. So first must end inside a string, and
// the joined text can only be complete after a line that closes it; the
// lines before are appended without decoding, which keeps the cost linear
// in the length of the event rather than in its length times its lines.
func (r *Reader) join(first []byte, firstLen int) (Item, int, bool, error) {
	if !openString(first) {
		return Item{}, 0, false, nil
	}
	joined := append([]byte(nil), first...)
	used := firstLen
	scanned := 0
	for {
		next, n, err := r.line(used)
		if err == io.EOF && r.Final {
			return Item{}, 0, false, nil
		}
		if err != nil {
			return Item{}, 0, false, err
		}
		if next == nil || len(joined)+2+len(next) > r.maxLine {
			return Item{}, 0, false, nil
		}
		mark := len(joined)
		joined = append(append(joined, `\n`...), next...)
		used += n
		quotes := unescapedQuotes(joined, mark)
		if quotes == 0 {
			continue // the string is still open
		}
		if scanned += len(joined); scanned > maxJoinDecodeFactor*len(joined) {
			return Item{}, 0, false, nil
		}
		ev, derr := r.decode(joined)
		if it, ok := whole(ev, derr); ok {
			return it, used, true, nil
		}
		if !errors.Is(derr, errUnexpectedEnd) {
			return Item{}, 0, false, nil
		}
		if quotes%2 == 1 {
			// The text is still a valid prefix but no longer ends inside
			// a string: no further line can complete it.
			return Item{}, 0, false, nil
		}
	}
}

// line returns the physical line that starts skip bytes after the
// unconsumed input, without its terminator (and a trailing CR), and its
// length with the terminator. It returns a nil line for a line longer than
// the limit, and io.EOF when the line is not complete yet. A line at the
// end of the input without a newline is returned only when Final is set.
func (r *Reader) line(skip int) ([]byte, int, error) {
	for {
		data := r.buf[r.start+skip:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			if i > r.maxLine {
				return nil, i + 1, nil
			}
			l := data[:i]
			if len(l) > 0 && l[len(l)-1] == '\r' {
				l = l[:len(l)-1]
			}
			return l, i + 1, nil
		}
		if len(data) > r.maxLine {
			if skip > 0 {
				return nil, len(data), nil
			}
			// Discard the over-long line as it streams in, keeping only
			// what is needed to find its end.
			if err := r.discard(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if r.srcEOF {
			if r.Final && len(data) > 0 {
				return data, len(data), nil
			}
			return nil, 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return nil, 0, err
		}
	}
}

// discard drops the bytes of an over-long line up to its newline, which it
// reads to; the caller then sees the rest of the line as a line of its own
// that is still over the limit.
func (r *Reader) discard() error {
	for {
		data := r.buf[r.start:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			// Keep one byte over the limit before the newline so that the
			// caller recognises the line as over-long.
			keep := min(i, r.maxLine+1)
			r.consume(i - keep)
			return nil
		}
		// Keep maxLine+1 bytes: still over the limit, without the rest.
		if drop := len(data) - (r.maxLine + 1); drop > 0 {
			r.consume(drop)
		}
		if r.srcEOF {
			if r.Final {
				// The line will never end; discard it whole.
				r.consume(len(r.buf) - r.start)
				r.queue = append(r.queue, Item{Skip: &DecodeError{Reason: ReasonLineTooLong, Err: errors.New("line longer than the limit")}, End: r.offset})
			}
			return io.EOF
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// decode decodes a line as Decode does, with the reader's state.
func (r *Reader) decode(line []byte) (Event, error) {
	if r.st == nil {
		return Decode(line, r.opts)
	}
	return r.st.decode(line, r.opts)
}

// eventSlab is how many events are allocated at once.
const eventSlab = 32

// newEvent returns a copy of ev on the heap. Events are allocated a slab
// at a time, one allocation for many lines; each is still an event of its
// own, which the caller may keep.
func (r *Reader) newEvent(ev Event) *Event {
	if len(r.slab) == 0 {
		r.slab = make([]Event, eventSlab)
	}
	e := &r.slab[0]
	*e = ev
	r.slab = r.slab[1:]
	return e
}

func (r *Reader) consume(n int) {
	r.start += n
	r.offset += int64(n)
}

// fill reads the next chunk, compacting the buffer first: the unconsumed
// bytes move to its start, behind the last keepBehind consumed ones.
func (r *Reader) fill() error {
	if r.start > keepBehind {
		n := copy(r.buf, r.buf[r.start-keepBehind:])
		r.buf = r.buf[:n]
		r.start = keepBehind
	}
	// The bytes kept take from a chunk's room rather than grow the
	// buffer: it grows when the unconsumed bytes leave less than a chunk,
	// as if none were kept, or when it is full.
	if free := cap(r.buf) - len(r.buf); free == 0 || free+r.start < r.chunk {
		nb := make([]byte, len(r.buf), 2*cap(r.buf)+r.chunk)
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if err == io.EOF {
		r.srcEOF = true
		return nil
	}
	if err != nil {
		return err
	}
	if n == 0 {
		// A reader that returns nothing without an error is treated as
		// exhausted for this pass.
		r.srcEOF = true
	}
	return nil
}
