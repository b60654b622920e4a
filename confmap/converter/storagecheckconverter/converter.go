// Package storagecheckconverter checks what no component's Validate can
// see, because it spans components: that every storage extension a
// component names is configured and enabled in service::extensions, and
// that every enabled file_storage extension can write its directory.
//
// It is a confmap converter, so it runs on the resolved configuration
// (environment variables expanded, --set applied) whenever the collector
// reads it: at start, and for `otelcol-copilot validate`. It changes
// nothing; an error names the key path at fault, as the collector's own
// validation does.
package storagecheckconverter // import "github.com/otelcol-copilot/otelcol-copilot/confmap/converter/storagecheckconverter"

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
)

// NewFactory returns the converter's factory.
func NewFactory() confmap.ConverterFactory {
	return confmap.NewConverterFactory(func(confmap.ConverterSettings) confmap.Converter { return converter{} })
}

type converter struct{}

// storageRefs are the keys, under a component's configuration, that name a
// storage extension.
var storageRefs = []struct {
	kind string // receivers, processors, exporters
	typ  string // the component type; "" is any
	key  []string
	// enabled is a key that, set to false, turns the section holding the
	// reference off; nil when there is none.
	enabled []string
}{
	{kind: "receivers", typ: "copilot", key: []string{"session_state", "storage"}},
	{kind: "processors", typ: "chargeback", key: []string{"storage"}},
	// exporterhelper's queue; enabled: false leaves it, and its storage, unused.
	{kind: "exporters", key: []string{"sending_queue", "storage"}, enabled: []string{"sending_queue", "enabled"}},
}

const fileStorageType = "file_storage"

// Convert checks conf and leaves it unchanged.
func (converter) Convert(_ context.Context, conf *confmap.Conf) error {
	root := conf.ToStringMap()
	// configured maps the extensions' ids to their keys as written.
	configured := map[component.ID]string{}
	for key := range asMap(root["extensions"]) {
		if id, ok := parseID(key); ok {
			configured[id] = key
		}
	}
	var enabled []component.ID
	for _, v := range asList(lookup(root, "service", "extensions")) {
		if s, ok := v.(string); ok {
			if id, ok := parseID(s); ok && !slices.Contains(enabled, id) {
				enabled = append(enabled, id)
			}
		}
	}
	errs := checkRefs(root, configured, enabled)
	for _, id := range enabled {
		if key, ok := configured[id]; ok && id.Type().String() == fileStorageType {
			errs = append(errs, checkFileStorage(conf, key)...)
		}
	}
	return errors.Join(errs...)
}

// checkRefs reports each storage reference that names no enabled
// extension.
func checkRefs(root map[string]any, configured map[component.ID]string, enabled []component.ID) []error {
	var errs []error
	for _, ref := range storageRefs {
		comps := asMap(root[ref.kind])
		for _, name := range sortedKeys(comps) {
			id, ok := parseID(name)
			if !ok || (ref.typ != "" && id.Type().String() != ref.typ) {
				continue
			}
			cfg := asMap(comps[name])
			if ref.enabled != nil {
				if on, ok := lookup(cfg, ref.enabled...).(bool); ok && !on {
					continue
				}
			}
			// A value that is not an id is for the component's own
			// unmarshaling to refuse.
			s, ok := lookup(cfg, ref.key...).(string)
			if !ok {
				continue
			}
			sid, ok := parseID(s)
			if !ok {
				continue
			}
			path := strings.Join(append([]string{ref.kind, name}, ref.key...), confmap.KeyDelimiter)
			switch {
			case slices.Contains(enabled, sid):
			case configured[sid] != "":
				errs = append(errs, fmt.Errorf("%s: %q is configured under extensions but not enabled; add it to service::extensions", path, s))
			default:
				errs = append(errs, fmt.Errorf("%s: %q names no extension in service::extensions; configure it under extensions and add it to service::extensions, or remove the key", path, s))
			}
		}
	}
	return errs
}

// checkFileStorage reports the directories of an enabled file_storage
// extension that it could not write: missing (without create_directory),
// not a directory, not writable, or, with create_directory, not creatable.
func checkFileStorage(conf *confmap.Conf, key string) []error {
	exts, err := conf.Sub("extensions")
	if err != nil {
		return nil
	}
	sub, err := exts.Sub(key)
	if err != nil {
		return nil
	}
	cfg := filestorage.NewFactory().CreateDefaultConfig().(*filestorage.Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil // the collector reports it, better than we could
	}
	prefix := strings.Join([]string{"extensions", key}, confmap.KeyDelimiter)
	var errs []error
	if err := checkDir(cfg.Directory, cfg.CreateDirectory); err != nil {
		errs = append(errs, fmt.Errorf("%s::directory: %w", prefix, err))
	}
	if c := cfg.Compaction; c != nil && (c.OnStart || c.OnRebound) && filepath.Clean(c.Directory) != filepath.Clean(cfg.Directory) {
		if err := checkDir(c.Directory, cfg.CreateDirectory); err != nil {
			errs = append(errs, fmt.Errorf("%s::compaction::directory: %w", prefix, err))
		}
	}
	return errs
}

// checkDir reports why the file storage extension could not keep its files
// in dir; create is create_directory.
func checkDir(dir string, create bool) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%q is not a directory", dir)
	case err == nil:
		return writable(dir)
	case errors.Is(err, syscall.ENOTDIR):
		// A file is in the way: the walk below names it.
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q: %w", dir, pathErr(err))
	case !create:
		return fmt.Errorf("%q does not exist; create it, or set create_directory: true", dir)
	}
	// The extension creates it: its nearest existing ancestor must take a
	// new directory.
	for a := filepath.Dir(dir); ; a = filepath.Dir(a) {
		st, err := os.Stat(a)
		switch {
		case err == nil && !st.IsDir():
			return fmt.Errorf("%q cannot be created: %q is not a directory", dir, a)
		case err == nil:
			if err := writable(a); err != nil {
				return fmt.Errorf("%q cannot be created: %w", dir, err)
			}
			return nil
		case errors.Is(err, syscall.ENOTDIR):
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%q cannot be created: %q: %w", dir, a, pathErr(err))
		case filepath.Dir(a) == a:
			return fmt.Errorf("%q cannot be created: none of its parents exists", dir)
		}
	}
}

// writable creates and removes a file in dir: what the extension will do,
// whatever the permission bits, ACLs or mount options say.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".otelcol-copilot-write-check-*")
	if err != nil {
		return fmt.Errorf("%q is not writable: %w", dir, pathErr(err))
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return nil
}

// pathErr strips the path from a *fs.PathError, which the message names
// already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseID(s string) (component.ID, bool) {
	var id component.ID
	if err := id.UnmarshalText([]byte(s)); err != nil {
		return component.ID{}, false
	}
	return id, true
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// lookup follows keys through nested maps; nil when a key is missing.
func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
