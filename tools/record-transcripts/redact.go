package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"unicode/utf8"
)

// The CLI's system prompt is long and not ours to publish; it is replaced
// by its length. Blocks of it, which some versions repeat in
// data.contentBlocks[].content, get the same treatment.
func promptPlaceholder(s string) string {
	return fmt.Sprintf("[system prompt omitted: %d characters]", utf8.RuneCountInString(s))
}

func blockPlaceholder(s string) string {
	return fmt.Sprintf("[system prompt block omitted: %d characters]", utf8.RuneCountInString(s))
}

// redactTranscript returns the transcript with the system prompt text of
// every system.message event replaced, and how many lines it changed.
// Everything else, the other lines and the rest of a changed line (key
// order, spacing, escapes), is kept byte for byte.
func redactTranscript(in []byte) ([]byte, int, error) {
	var out bytes.Buffer
	out.Grow(len(in))
	changed := 0
	for lineNo := 1; len(in) > 0; lineNo++ {
		end := bytes.IndexByte(in, '\n')
		var line, term []byte
		if end < 0 {
			line, in = in, nil
		} else {
			line, term, in = in[:end], in[end:end+1], in[end+1:]
		}
		if bytes.Contains(line, []byte(`"system.message"`)) {
			red, ok, err := redactLine(line)
			if err != nil {
				return nil, 0, fmt.Errorf("line %d: %w", lineNo, err)
			}
			if ok {
				line = red
				changed++
			}
		}
		out.Write(line)
		out.Write(term)
	}
	return out.Bytes(), changed, nil
}

// span is a replacement of line[start:end].
type span struct {
	start, end int
	with       string
}

// redactLine rewrites one event line if it is a system.message event. A
// line that is not a complete JSON object is an error only when it looks
// like a system.message, since its prompt could not be removed.
func redactLine(line []byte) ([]byte, bool, error) {
	if !json.Valid(line) {
		return nil, false, errors.New("a system.message line that is not valid JSON")
	}
	var typ string
	dataStart := -1
	if _, err := eachMember(line, skipSpace(line, 0), func(key string, vs, ve int) error {
		switch key {
		case "type":
			_ = json.Unmarshal(line[vs:ve], &typ)
		case "data":
			dataStart = vs
		}
		return nil
	}); err != nil {
		return nil, false, err
	}
	if typ != "system.message" {
		return nil, false, nil
	}
	if dataStart < 0 || line[dataStart] != '{' {
		return nil, false, errors.New("system.message without a data object")
	}

	var spans []span
	stringSpan := func(vs, ve int, placeholder func(string) string) error {
		if line[vs] != '"' {
			return nil // null or another shape: nothing to hide
		}
		var s string
		if err := json.Unmarshal(line[vs:ve], &s); err != nil {
			return err
		}
		enc, err := json.Marshal(placeholder(s))
		if err != nil {
			return err
		}
		spans = append(spans, span{vs, ve, string(enc)})
		return nil
	}
	if _, err := eachMember(line, dataStart, func(key string, vs, ve int) error {
		switch key {
		case "content":
			return stringSpan(vs, ve, promptPlaceholder)
		case "contentBlocks":
			if line[vs] != '[' {
				return nil
			}
			_, err := eachElement(line, vs, func(es, ee int) error {
				if line[es] != '{' {
					return nil
				}
				_, err := eachMember(line, es, func(key string, vs, ve int) error {
					if key == "content" {
						return stringSpan(vs, ve, blockPlaceholder)
					}
					return nil
				})
				return err
			})
			return err
		}
		return nil
	}); err != nil {
		return nil, false, err
	}
	if len(spans) == 0 {
		return nil, false, nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var out bytes.Buffer
	prev := 0
	for _, s := range spans {
		out.Write(line[prev:s.start])
		out.WriteString(s.with)
		prev = s.end
	}
	out.Write(line[prev:])
	res := out.Bytes()
	if !json.Valid(res) {
		return nil, false, errors.New("rewritten line is not valid JSON")
	}
	if err := sameButPrompts(line, res); err != nil {
		return nil, false, err
	}
	return res, true, nil
}

// sameButPrompts checks that the rewritten line decodes to the original
// with only the prompt strings changed.
func sameButPrompts(orig, res []byte) error {
	var a, b map[string]any
	if err := json.Unmarshal(orig, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(res, &b); err != nil {
		return fmt.Errorf("rewritten line does not read back: %w", err)
	}
	data, _ := a["data"].(map[string]any)
	if s, ok := data["content"].(string); ok {
		data["content"] = promptPlaceholder(s)
	}
	blocks, _ := data["contentBlocks"].([]any)
	for _, bl := range blocks {
		if m, ok := bl.(map[string]any); ok {
			if s, ok := m["content"].(string); ok {
				m["content"] = blockPlaceholder(s)
			}
		}
	}
	if !reflect.DeepEqual(a, b) {
		return errors.New("rewritten line differs from the original in more than the prompt")
	}
	return nil
}

// A minimal JSON scanner that reports byte offsets, so that one value can
// be replaced without re-encoding the rest of the line. The input has been
// checked with json.Valid, so it only has to find boundaries.

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

var errSyntax = errors.New("unexpected JSON")

// skipValue returns the offset just after the value starting at i.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errSyntax
	case '{':
		return eachMember(b, i, func(string, int, int) error { return nil })
	case '[':
		return eachElement(b, i, func(int, int) error { return nil })
	}
	j := i
	for j < len(b) && !bytes.ContainsRune([]byte(",]} \t\r\n"), rune(b[j])) {
		j++
	}
	if j == i {
		return 0, errSyntax
	}
	return j, nil
}

// eachMember calls fn with each key of the object at i and the offsets of
// its value, and returns the offset after the object.
func eachMember(b []byte, i int, fn func(key string, vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		ke, err := skipValue(b, i)
		if err != nil || b[i] != '"' {
			return 0, errSyntax
		}
		var key string
		if err := json.Unmarshal(b[i:ke], &key); err != nil {
			return 0, err
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		vs := skipSpace(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return 0, err
		}
		if err := fn(key, vs, ve); err != nil {
			return 0, err
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return 0, errSyntax
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// eachElement calls fn with the offsets of each element of the array at i
// and returns the offset after the array.
func eachElement(b []byte, i int, fn func(vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return 0, errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		ve, err := skipValue(b, i)
		if err != nil {
			return 0, err
		}
		if err := fn(i, ve); err != nil {
			return 0, err
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return 0, errSyntax
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
	}
}
