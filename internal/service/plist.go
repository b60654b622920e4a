package service

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParsePlist reads an XML property list into Go values: a dict is a
// map[string]any, an array []any, a string string, an integer int64, a
// real float64, true and false bool, a date or data its text. It checks
// what launchd would refuse: the root element, a dict's key before each
// value, no duplicate keys, known elements only.
func ParsePlist(r io.Reader) (any, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("plist: no <plist> element: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "plist" {
			return nil, fmt.Errorf("plist: the root element is <%s>, not <plist>", se.Name.Local)
		}
		if v := attr(se, "version"); v != "1.0" {
			return nil, fmt.Errorf("plist: version %q, want 1.0", v)
		}
		start, err := nextStart(d, "plist")
		if err != nil {
			return nil, err
		}
		if start == nil {
			return nil, errors.New("plist: <plist> holds no value")
		}
		v, err := plistValue(d, *start)
		if err != nil {
			return nil, err
		}
		if extra, err := nextStart(d, "plist"); err != nil || extra != nil {
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("plist: <plist> holds more than one value (<%s>)", extra.Name.Local)
		}
		return v, nil
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// nextStart is the next child element, or nil at the end of parent.
func nextStart(d *xml.Decoder, parent string) (*xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("plist: inside <%s>: %w", parent, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			return nil, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("plist: text %q inside <%s>", strings.TrimSpace(string(t)), parent)
			}
		}
	}
}

func plistValue(d *xml.Decoder, se xml.StartElement) (any, error) {
	name := se.Name.Local
	switch name {
	case "dict":
		m := map[string]any{}
		for {
			k, err := nextStart(d, "dict")
			if err != nil {
				return nil, err
			}
			if k == nil {
				return m, nil
			}
			if k.Name.Local != "key" {
				return nil, fmt.Errorf("plist: <%s> in a dict where a <key> belongs", k.Name.Local)
			}
			var key string
			if err := d.DecodeElement(&key, k); err != nil {
				return nil, fmt.Errorf("plist: <key>: %w", err)
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("plist: key %q twice in a dict", key)
			}
			v, err := nextStart(d, "dict")
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, fmt.Errorf("plist: key %q has no value", key)
			}
			if m[key], err = plistValue(d, *v); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	case "array":
		a := []any{}
		for {
			e, err := nextStart(d, "array")
			if err != nil {
				return nil, err
			}
			if e == nil {
				return a, nil
			}
			v, err := plistValue(d, *e)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "true", "false":
		var s string
		if err := d.DecodeElement(&s, &se); err != nil || s != "" {
			return nil, fmt.Errorf("plist: <%s/> must be empty", name)
		}
		return name == "true", nil
	case "string", "integer", "real", "date", "data":
		var s string
		if err := d.DecodeElement(&s, &se); err != nil {
			return nil, fmt.Errorf("plist: <%s>: %w", name, err)
		}
		switch name {
		case "integer":
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("plist: <integer>%s</integer>: %w", s, err)
			}
			return n, nil
		case "real":
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("plist: <real>%s</real>: %w", s, err)
			}
			return f, nil
		}
		return s, nil
	}
	return nil, fmt.Errorf("plist: unknown element <%s>", name)
}
