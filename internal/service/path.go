package service

import (
	"path/filepath"
	"strings"
)

// OnPath tells whether dir is one of the directories of pathEnv (the
// PATH variable's value), on goos's rules: compared after cleaning, and
// without regard to case on Windows.
func OnPath(dir, pathEnv, goos string) bool {
	dir = filepath.Clean(dir)
	for _, d := range splitList(pathEnv, goos) {
		if d == "" {
			continue
		}
		d = filepath.Clean(d)
		if d == dir || goos == "windows" && strings.EqualFold(d, dir) {
			return true
		}
	}
	return false
}

func splitList(p, goos string) []string {
	sep := ":"
	if goos == "windows" {
		sep = ";"
	}
	return strings.Split(p, sep)
}

// PathLines are the lines that put dir on PATH, one per shell: for
// bash and zsh (~/.profile, ~/.bashrc, ~/.zshrc) and fish on Unix systems,
// for PowerShell ($PROFILE) on Windows. A directory under home is written
// from $HOME (or $env:USERPROFILE), so the line can be shared.
func PathLines(dir, home, goos string) [][2]string {
	if goos == "windows" {
		d := psEscape(dir)
		if rel, ok := under(dir, home); ok {
			d = "$env:USERPROFILE\\" + psEscape(rel)
		}
		return [][2]string{{"PowerShell ($PROFILE)", `$env:Path = "` + d + `;$env:Path"`}}
	}
	sh, fish := shDQ(dir), fishDQ(dir)
	if rel, ok := under(dir, home); ok {
		sh, fish = "$HOME/"+shDQ(rel), "$HOME/"+fishDQ(rel)
	}
	return [][2]string{
		{"bash, zsh (~/.profile, ~/.bashrc, ~/.zshrc)", `export PATH="` + sh + `:$PATH"`},
		{"fish (~/.config/fish/config.fish)", `fish_add_path "` + fish + `"`},
	}
}

// under is dir relative to home when it lies inside it.
func under(dir, home string) (string, bool) {
	if home == "" {
		return "", false
	}
	rel, err := filepath.Rel(home, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// shDQ escapes s for the inside of a POSIX shell's double quotes.
func shDQ(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(s)
}

// fishDQ escapes s for the inside of fish's double quotes.
func fishDQ(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`).Replace(s)
}

// psEscape escapes s for the inside of PowerShell's double quotes.
func psEscape(s string) string {
	return strings.NewReplacer("`", "``", `"`, "`\"", "$", "`$").Replace(s)
}
