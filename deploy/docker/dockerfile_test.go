// Package docker holds the tests of the distributions' Dockerfiles. There is
// no Docker engine where the tests run, so they check what can be checked
// without one: the stages, base images, user and entrypoint of each file
// (here), and, with -tags dockerbuild, that the build stage's own command
// gives a static binary that lists its components (build_test.go).
package docker

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// images are the Dockerfiles, each with the distribution it builds.
var images = []struct {
	file, dist string
	// config: the image runs with --config by default (no embedded default).
	config bool
}{
	{"laptop.Dockerfile", "otelcol-copilot", false},
	{"gateway.Dockerfile", "otelcol-copilot-gateway", true},
}

const (
	buildImage = "golang:1.26"
	finalImage = "gcr.io/distroless/static-debian12:nonroot"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is a FROM and the instructions up to the next one.
type stage struct {
	image, name string
	body        []instruction
}

// parse reads a Dockerfile into its stages.
func parse(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		stages  []stage
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(cont)
			pending.WriteString(" ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			s := stage{image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			continue
		}
		require.NotEmpty(t, stages, "%s:%d: %s before any FROM", path, start, in.cmd)
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	require.NoError(t, sc.Err())
	return stages
}

// all returns the stage's instructions of one kind.
func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// buildCommand is the build stage's go build: its environment assignments
// and arguments, as the shell would split them.
type buildCommand struct {
	env  []string
	args []string // after "go"
}

// buildCommandOf finds the RUN of the build stage that runs go build.
func buildCommandOf(t *testing.T, s stage) buildCommand {
	t.Helper()
	for _, in := range s.all("RUN") {
		words := shellWords(t, in.args)
		for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN flags (--mount)
			words = words[1:]
		}
		var bc buildCommand
		for len(words) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[0]) {
			bc.env = append(bc.env, words[0])
			words = words[1:]
		}
		if len(words) >= 2 && words[0] == "go" && words[1] == "build" {
			bc.args = words[1:]
			return bc
		}
	}
	t.Fatalf("no RUN ... go build in stage %s", s.name)
	return buildCommand{}
}

// shellWords splits a command line as sh does for what these files use:
// blanks, double and single quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	require.Zero(t, quote, "unterminated quote in %q", s)
	if in {
		words = append(words, cur.String())
	}
	return words
}

// flagValue returns the value of -name in args ("-o x" or "-o=x").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "-"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestDockerfiles checks each Dockerfile's shape: a golang:1.26 build stage
// (the Go of go.mod) building the distribution static (CGO_ENABLED=0,
// -trimpath), and a distroless static final stage that runs only that
// binary as a non-root user; the gateway's with --config.
func TestDockerfiles(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goLine)
	assert.Equal(t, "golang:"+string(goLine[1]), buildImage, "the build image's Go is go.mod's")

	for _, img := range images {
		t.Run(img.file, func(t *testing.T) {
			stages := parse(t, img.file)
			require.Len(t, stages, 2)
			build, final := stages[0], stages[1]
			assert.Equal(t, buildImage, build.image)
			assert.Equal(t, "build", build.name)
			assert.Equal(t, finalImage, final.image)

			bc := buildCommandOf(t, build)
			assert.Contains(t, bc.env, "CGO_ENABLED=0")
			assert.Contains(t, bc.args, "-trimpath")
			out, ok := flagValue(bc.args, "o")
			require.True(t, ok, "go build -o")
			assert.Equal(t, "/out/"+img.dist, out)
			assert.Equal(t, "./cmd/"+img.dist, bc.args[len(bc.args)-1])

			copies := final.all("COPY")
			require.Len(t, copies, 1)
			assert.Equal(t, fmt.Sprintf("--from=build %s /%s", out, img.dist), copies[0].args)
			users := final.all("USER")
			require.NotEmpty(t, users, "the final stage sets a USER")
			user := strings.Fields(users[len(users)-1].args)[0]
			u, _, _ := strings.Cut(user, ":")
			assert.NotContains(t, []string{"root", "0"}, u, "the image runs as a non-root user")
			assert.Empty(t, final.all("RUN"), "a distroless image has no shell")

			entry := final.all("ENTRYPOINT")
			require.Len(t, entry, 1)
			assert.Equal(t, fmt.Sprintf(`["/%s"]`, img.dist), entry[0].args)
			cmd := final.all("CMD")
			if img.config {
				require.Len(t, cmd, 1)
				assert.Contains(t, cmd[0].args, `"--config"`)
			} else {
				assert.Empty(t, cmd, "the laptop image runs its embedded default")
			}
		})
	}
}

// TestDockerignore: what .dockerignore leaves out of the build context is
// not what the build reads (every Go package, go.mod and go.sum).
func TestDockerignore(t *testing.T) {
	patterns := dockerignore(t, "../../.dockerignore")
	for _, keep := range []string{"go.mod", "go.sum", "cmd/otelcol-copilot/main.go", "cmd/otelcol-copilot-gateway/main.go",
		"confmap/provider/defaultconfigprovider/default.yaml", "receiver/copilotreceiver/factory.go"} {
		assert.False(t, ignored(patterns, keep), "%s is left out of the build context", keep)
	}
	for _, drop := range []string{".git/config", "testdata/copilot-cli/README.md", "receiver/copilotreceiver/testdata/x"} {
		assert.True(t, ignored(patterns, drop), "%s is sent to the builder", drop)
	}
}

// dockerignore reads the patterns of a .dockerignore.
func dockerignore(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		require.False(t, strings.HasPrefix(l, "!"), "exceptions are not handled here: %q", l)
		out = append(out, l)
	}
	return out
}

// ignored reports whether a slash-separated path relative to the context
// is left out: a pattern matches the path or one of its parents; "**/"
// matches any number of directories.
func ignored(patterns []string, path string) bool {
	parts := strings.Split(path, "/")
	for _, p := range patterns {
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if rest, ok := strings.CutPrefix(p, "**/"); ok {
				if m, _ := filepath.Match(rest, parts[i-1]); m {
					return true
				}
				continue
			}
			if m, _ := filepath.Match(p, prefix); m {
				return true
			}
		}
	}
	return false
}
