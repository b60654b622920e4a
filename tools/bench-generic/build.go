package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// buildGeneric builds the generic route's collector from manifest with the
// project's pinned builder (go tool builder) into cache, once per manifest
// content, and returns the binary. The builder writes its own go.mod in its
// output directory; nothing of it enters this repository's module.
func buildGeneric(root, manifest, cache string) (string, error) {
	m, err := os.ReadFile(manifest)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(m)
	out := filepath.Join(cache, "generic-"+hex.EncodeToString(sum[:6]))
	bin := filepath.Join(out, "otelcol-generic")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		fmt.Printf("generic route: reusing %s\n", bin)
		return bin, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	// The committed manifest's output_path is for a build by hand; this
	// build goes to the cache.
	re := regexp.MustCompile(`(?m)^(\s+output_path:).*$`)
	if !re.Match(m) {
		return "", fmt.Errorf("%s: no dist.output_path to replace", manifest)
	}
	m = re.ReplaceAll(m, []byte("${1} "+abs))
	cfg := filepath.Join(out, "builder-config.yaml")
	if err := os.WriteFile(cfg, m, 0o644); err != nil {
		return "", err
	}
	fmt.Printf("generic route: building with go tool builder into %s (minutes, once)\n", out)
	start := time.Now()
	cmd := exec.Command("go", "tool", "builder", "--config", cfg)
	cmd.Dir = root
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go tool builder: %w\n%s", err, logs.String())
	}
	fmt.Printf("generic route: built in %v\n", time.Since(start).Round(time.Second))
	return bin, nil
}

// buildOurs builds one of this repository's distributions (go build is
// incremental: the receiver as it is now).
func buildOurs(root, pkg, bin string) error {
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, logs.String())
	}
	fmt.Printf("built %s in %v\n", pkg, time.Since(start).Round(time.Second))
	return nil
}
