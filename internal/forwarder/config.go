package forwarder

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
)

// Environment variables the forwarder reads when the command line does not
// say.
const (
	EnvEndpoint    = "OTELCOL_COPILOT_ENDPOINT"
	EnvToken       = "OTELCOL_COPILOT_TOKEN"
	EnvTokenFile   = "OTELCOL_COPILOT_TOKEN_FILE"
	EnvSpoolDir    = "OTELCOL_COPILOT_SPOOL_DIR"
	EnvCopilotHome = statedir.EnvCopilotHome
	EnvLogLevel    = "OTELCOL_COPILOT_HOOK_LOG_LEVEL"
)

// Names of what the forwarder keeps in the state directory.
const (
	LogFileName   = "hook.log"
	UsageCacheDir = "hook-usage"
	SpoolDirName  = "spool"
)

// maxTokenFile bounds a token file.
const maxTokenFile = 64 << 10

// Settings are what the command line says; empty fields fall back on the
// environment, then on the defaults.
type Settings struct {
	Endpoint      string
	TokenFile     string
	Timeout       time.Duration
	SpoolDir      string
	SpoolMaxBytes int64
	SpoolMaxFiles int
	CopilotHome   string
	ReplayBudget  time.Duration
	// SyncWait bounds the wait for the hook's hook.start line (see
	// SyncPoint); 0 means the default, negative no wait.
	SyncWait time.Duration
	// SyncHooks is a list for ParseHookList; "" means DefaultSyncHooks.
	SyncHooks string
	// NoUsage forwards payloads as they are.
	NoUsage bool
	// StateDir replaces the per-user state directory (tests).
	StateDir string
	LogLevel string
}

// Config is the forwarder's resolved configuration.
type Config struct {
	Endpoint string
	Token    string
	// TokenSource names where the token came from, for messages.
	TokenSource   string
	Timeout       time.Duration
	SpoolDir      string
	SpoolMaxBytes int64
	SpoolMaxFiles int
	CopilotHome   string
	// StateDir is the per-user state directory, "" when there is none.
	StateDir     string
	ReplayBudget time.Duration
	SyncWait     time.Duration
	SyncHooks    []string
	NoUsage      bool
	LogLevel     int
}

// Resolve fills in the settings from the environment (getenv) and the
// defaults. The configuration is usable whatever the errors, which name
// the flag, variable or file at fault: a forwarder with a bad endpoint or
// token spools what it cannot deliver.
func Resolve(s Settings, getenv func(string) string) (Config, []error) {
	var errs []error
	c := Config{
		Endpoint:      s.Endpoint,
		Timeout:       s.Timeout,
		SpoolDir:      s.SpoolDir,
		SpoolMaxBytes: s.SpoolMaxBytes,
		SpoolMaxFiles: s.SpoolMaxFiles,
		CopilotHome:   s.CopilotHome,
		StateDir:      s.StateDir,
		ReplayBudget:  s.ReplayBudget,
		SyncWait:      s.SyncWait,
		NoUsage:       s.NoUsage,
		LogLevel:      LevelInfo,
	}

	endpointFrom := "--endpoint"
	if c.Endpoint == "" {
		c.Endpoint, endpointFrom = getenv(EnvEndpoint), EnvEndpoint
	}
	if c.Endpoint == "" {
		c.Endpoint, endpointFrom = DefaultEndpoint, ""
	}
	if err := CheckEndpoint(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("%s %q: %w", endpointFrom, c.Endpoint, err))
	}

	switch {
	case s.TokenFile != "":
		c.TokenSource = "--token-file " + s.TokenFile
		c.Token, errs = readToken(s.TokenFile, c.TokenSource, errs)
	case getenv(EnvToken) != "":
		c.TokenSource = EnvToken
		c.Token = strings.TrimSpace(getenv(EnvToken))
		errs = checkToken(c.Token, c.TokenSource, errs)
	case getenv(EnvTokenFile) != "":
		c.TokenSource = EnvTokenFile + "=" + getenv(EnvTokenFile)
		c.Token, errs = readToken(getenv(EnvTokenFile), c.TokenSource, errs)
	}
	if c.Token != "" && strings.ContainsAny(c.Token, "\r\n\x00") {
		c.Token = ""
	}

	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ReplayBudget <= 0 {
		c.ReplayBudget = DefaultReplayBudget
	}
	if c.SyncWait == 0 {
		c.SyncWait = DefaultSyncWait
	} else if c.SyncWait < 0 {
		c.SyncWait = 0
	}
	if s.SyncHooks != "" {
		hooks, err := ParseHookList(s.SyncHooks)
		if err != nil {
			errs = append(errs, fmt.Errorf("--sync-hooks: %w", err))
		} else {
			c.SyncHooks = hooks
		}
	}
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if c.SpoolMaxFiles <= 0 {
		c.SpoolMaxFiles = DefaultSpoolMaxFiles
	}

	if c.StateDir == "" {
		d, err := statedir.Dir()
		if err != nil {
			errs = append(errs, err)
		}
		c.StateDir = d
	}
	if c.SpoolDir == "" {
		c.SpoolDir = getenv(EnvSpoolDir)
	}
	if c.SpoolDir == "" && c.StateDir != "" {
		c.SpoolDir = filepath.Join(c.StateDir, SpoolDirName)
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("no spool directory: set --spool-dir or "+EnvSpoolDir))
	}

	if c.CopilotHome == "" {
		if h, err := statedir.CopilotHome(getenv); err == nil {
			c.CopilotHome = h
		} else {
			errs = append(errs, fmt.Errorf("no Copilot home: set --copilot-home or %s (%v)", EnvCopilotHome, err))
		}
	}

	level := s.LogLevel
	if level == "" {
		level = getenv(EnvLogLevel)
	}
	if level != "" {
		l, err := ParseLevel(level)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvLogLevel, err))
		} else {
			c.LogLevel = l
		}
	}
	return c, errs
}

// CheckEndpoint reports what is wrong with a collector base URL.
func CheckEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the URL must start with http:// or https://")
	}
	if u.Host == "" {
		return errors.New("the URL has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("the URL must not have a query or fragment")
	}
	return nil
}

func readToken(path, source string, errs []error) (string, []error) {
	f, err := os.Open(path)
	if err != nil {
		return "", append(errs, fmt.Errorf("%s: cannot read the token: %w", source, err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", append(errs, fmt.Errorf("%s: cannot read the token: %w", source, err))
	}
	if len(b) > maxTokenFile {
		return "", append(errs, fmt.Errorf("%s: the file is larger than %d bytes; is it the token?", source, maxTokenFile))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", append(errs, fmt.Errorf("%s: the file is empty", source))
	}
	return tok, checkToken(tok, source, errs)
}

func checkToken(tok, source string, errs []error) []error {
	if strings.ContainsAny(tok, "\r\n\x00") {
		return append(errs, fmt.Errorf("%s: the token spans several lines; it must be one line", source))
	}
	return errs
}

// EndpointSpoolDir is the directory of the spool of payloads for the
// configured endpoint, in the spool directory; "" without one.
func (c Config) EndpointSpoolDir() string {
	if c.SpoolDir == "" {
		return ""
	}
	return filepath.Join(c.SpoolDir, EndpointDir(c.Endpoint))
}

// LogPath is the forwarder's log file, "" without a state directory.
func (c Config) LogPath() string {
	if c.StateDir == "" {
		return ""
	}
	return filepath.Join(c.StateDir, LogFileName)
}

// Logger returns the forwarder's logger; fallback receives what the log
// file cannot.
func (c Config) Logger(prefix string, fallback io.Writer) *Logger {
	return &Logger{Path: c.LogPath(), Level: c.LogLevel, Fallback: fallback, Prefix: prefix}
}

// UsageCounter returns the usage counter of the configuration.
func (c Config) UsageCounter(log *Logger) *UsageCounter {
	u := &UsageCounter{SyncWait: c.SyncWait, Log: log}
	if c.CopilotHome != "" {
		u.Roots = []string{SessionStateDir(c.CopilotHome)}
		u.Store = sessionstore.Path(c.CopilotHome)
	}
	if c.StateDir != "" {
		u.CacheDir = filepath.Join(c.StateDir, UsageCacheDir)
	}
	return u
}

// Forwarder returns a forwarder of the configuration.
func (c Config) Forwarder(log *Logger, userAgent string) *Forwarder {
	spool := &Spool{Dir: c.EndpointSpoolDir(), Endpoint: normalizeEndpoint(c.Endpoint), MaxBytes: c.SpoolMaxBytes, MaxFiles: c.SpoolMaxFiles, Log: log}
	host, _ := os.Hostname()
	f := &Forwarder{
		Client: &Client{
			Endpoint:  c.Endpoint,
			Token:     c.Token,
			UserAgent: userAgent,
			Host:      host,
			Dropped:   spool.Dropped,
			Spool:     spool.ID,
			HTTP:      &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2}},
		},
		Spool:        spool,
		Legacy:       &Spool{Dir: c.SpoolDir, Log: log},
		CopilotHome:  c.CopilotHome,
		SyncHooks:    c.SyncHooks,
		Timeout:      c.Timeout,
		ReplayBudget: c.ReplayBudget,
		Log:          log,
	}
	if !c.NoUsage {
		f.Usage = c.UsageCounter(log)
	}
	return f
}
