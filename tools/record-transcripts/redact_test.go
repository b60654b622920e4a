package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactTranscript(t *testing.T) {
	in := strings.Join([]string{
		`{"type":"session.start","data":{"content":"not a prompt"},"id":"1"}`,
		`{"type":"system.message","data":{"role":"system","content":"You are \"x\" \u00e9\n\u2603","metadata":{"content":"kept"}},"id":"2","parentId":null}`,
		`{ "type" : "system.message" , "data" : { "contentBlocks" : [ {"content":"abc","isStatic":true}, {"content":"de"} ], "content" : "abcde" } , "agentId":"a"}`,
		`{"type":"user.message","data":{"content":"mentions \"system.message\""}}`,
		`{"type":"assistant.message","data":{"con`, // torn last line, no newline
	}, "\n")
	out, n, err := redactTranscript([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d lines changed", n)
	}
	want := strings.Join([]string{
		`{"type":"session.start","data":{"content":"not a prompt"},"id":"1"}`,
		`{"type":"system.message","data":{"role":"system","content":"[system prompt omitted: 15 characters]","metadata":{"content":"kept"}},"id":"2","parentId":null}`,
		`{ "type" : "system.message" , "data" : { "contentBlocks" : [ {"content":"[system prompt block omitted: 3 characters]","isStatic":true}, {"content":"[system prompt block omitted: 2 characters]"} ], "content" : "[system prompt omitted: 5 characters]" } , "agentId":"a"}`,
		`{"type":"user.message","data":{"content":"mentions \"system.message\""}}`,
		`{"type":"assistant.message","data":{"con`,
	}, "\n")
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	for _, line := range strings.Split(want, "\n")[:4] {
		if !json.Valid([]byte(line)) {
			t.Fatalf("invalid: %s", line)
		}
	}
}

func TestRedactTornSystemMessage(t *testing.T) {
	if _, _, err := redactTranscript([]byte(`{"type":"system.message","data":{"content":"You are`)); err == nil {
		t.Fatal("a torn system.message must not be kept with its prompt")
	}
}
