package attribution

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Resolver attributes spend. It is safe for concurrent use.
type Resolver struct {
	cfg          Config
	inline       *compiled
	unattributed string
	logger       *zap.Logger

	snap atomic.Pointer[snapshot]

	reloads      atomic.Uint64
	reloadErrors atomic.Uint64

	// The reload loop's own state: the version of the file in use and of
	// the last one refused, so that a bad file is reported once.
	loaded, refused os.FileInfo
	missing         bool

	startOnce, stopOnce sync.Once
	stop                chan struct{}
	done                chan struct{}
}

// snapshot is everything Resolve reads, replaced as a whole on reload.
type snapshot struct {
	rules          []compiledRule // mapping file's, then inline
	tickets        ticketMap
	mappingRules   int
	mappingTickets int
}

// Stats reports the mapping file's reloads.
type Stats struct {
	// Reloads counts the times a changed mapping file replaced the mapping
	// (the read in New is not counted).
	Reloads uint64
	// ReloadErrors counts the versions of the mapping file that could not
	// be read or parsed and so were not used.
	ReloadErrors uint64
	// MappingRules and MappingTickets are the current mapping's rules and
	// tickets from the file.
	MappingRules, MappingTickets int
}

// New compiles c and reads the mapping file, if any: a missing or bad file
// is an error naming it and the line. A nil logger logs nothing.
func New(c Config, logger *zap.Logger) (*Resolver, error) {
	inline, err := compileConfig(c)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Resolver{
		cfg:          c,
		inline:       inline,
		unattributed: c.unattributed(),
		logger:       logger,
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	var m *mapping
	if c.MappingFile != "" {
		fi, mm, err := loadMappingFile(c.MappingFile)
		if err != nil {
			return nil, err
		}
		m, r.loaded = mm, fi
	}
	r.snap.Store(r.build(m))
	return r, nil
}

// ValidateMappingFile reads and parses the mapping file, if any, as New
// does, and returns what New would refuse it for: a missing, unreadable,
// empty or malformed file, named with its line
// (`mapping_file: /etc/teams.csv:3: ...`). A mapping file
// whose extension Validate refuses is left to Validate. Unlike Validate it
// reads the file system, so a configuration can be checked before the
// collector starts (`otelcol-copilot validate`).
func (c Config) ValidateMappingFile() error {
	if c.MappingFile == "" || !knownMappingExt(c.MappingFile) {
		return nil
	}
	_, _, err := loadMappingFile(c.MappingFile)
	return err
}

// loadMappingFile reads the mapping file at start; errors name the key.
func loadMappingFile(path string) (os.FileInfo, *mapping, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping_file: %w", err)
	}
	m, err := readMapping(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping_file: %w", err)
	}
	return fi, m, nil
}

func readMapping(path string) (*mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMapping(path, data)
}

func (r *Resolver) build(m *mapping) *snapshot {
	s := &snapshot{}
	var fileTickets map[string]string
	if m != nil {
		s.rules = append(s.rules, m.rules...)
		s.mappingRules = len(m.rules)
		s.mappingTickets = len(m.tickets)
		fileTickets = m.tickets
	}
	s.rules = append(s.rules, r.inline.rules...)
	s.tickets = newTicketMap(r.inline.tickets, fileTickets)
	return s
}

// Resolve attributes spend that happened where in says. It allocates
// nothing (a custom ticket pattern allocates once per new branch).
func (r *Resolver) Resolve(in Input) Result {
	s := r.snap.Load()
	var (
		res     Result
		vals    [numOut]string
		by      [numOut]*compiledRule
		pending uint8 = allOut
	)
	if t := s.tickets.find(in.Branch); t != "" {
		vals[outTicket] = t
		pending &^= 1 << outTicket
		res.TicketSource = TicketFromMapping
	}
	for i := range s.rules {
		rule := &s.rules[i]
		gives := rule.sets & pending
		if gives == 0 || !rule.matches(&in) {
			continue
		}
		for f := range numOut {
			if gives&(1<<f) != 0 {
				vals[f], by[f] = rule.set[f], rule
			}
		}
		if pending &^= gives; pending == 0 {
			break
		}
	}
	if by[outTicket] != nil {
		res.TicketSource = TicketFromRule
	}
	if vals[outTicket] == "" {
		if t := r.inline.pattern.find(in.Branch); t != "" {
			vals[outTicket] = t
			res.TicketSource = TicketFromPattern
		}
	}
	for _, f := range [...]uint8{outTeam, outProject, outCostCenter} {
		if by[f] != nil {
			res.Rule = by[f].name
			break
		}
	}
	for f := range vals {
		if vals[f] == "" {
			vals[f] = r.unattributed
		}
	}
	res.Team, res.Project, res.CostCenter, res.Ticket = vals[outTeam], vals[outProject], vals[outCostCenter], vals[outTicket]
	return res
}

// Start starts checking the mapping file for changes every ReloadInterval,
// if there is a mapping file. The loop runs until Shutdown: ctx is not kept,
// as the context a collector component's Start receives may end when Start
// returns. Calling Start again does nothing.
func (r *Resolver) Start(_ context.Context) {
	r.startOnce.Do(func() {
		if r.cfg.MappingFile == "" {
			close(r.done)
			return
		}
		go r.loop(r.cfg.reloadInterval())
	})
}

// Shutdown stops the loop Start started and waits for it to end. It may be
// called without Start, and more than once.
func (r *Resolver) Shutdown() {
	r.stopOnce.Do(func() { close(r.stop) })
	r.startOnce.Do(func() { close(r.done) })
	<-r.done
}

// Stats reports the mapping file's reloads and current size.
func (r *Resolver) Stats() Stats {
	s := r.snap.Load()
	return Stats{
		Reloads:        r.reloads.Load(),
		ReloadErrors:   r.reloadErrors.Load(),
		MappingRules:   s.mappingRules,
		MappingTickets: s.mappingTickets,
	}
}

func (r *Resolver) loop(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.check()
		}
	}
}

// sameVersion says whether two stats are of the same version of a file.
func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// check reloads the mapping file if it changed. Only the loop calls it.
func (r *Resolver) check() {
	path := r.cfg.MappingFile
	fi, err := os.Stat(path)
	if err != nil {
		if !r.missing {
			r.missing = true
			r.refuse(nil, err)
		}
		return
	}
	r.missing = false
	if sameVersion(fi, r.loaded) || sameVersion(fi, r.refused) {
		return
	}
	m, err := readMapping(path)
	if after, serr := os.Stat(path); serr != nil || !sameVersion(fi, after) {
		return // changed while read: read it again at the next check
	}
	if err != nil {
		r.refuse(fi, err)
		return
	}
	s := r.build(m)
	r.snap.Store(s)
	r.loaded, r.refused = fi, nil
	r.reloads.Add(1)
	r.logger.Info("Attribution mapping file reloaded",
		zap.String("file", path), zap.Int("rules", s.mappingRules),
		zap.Int("tickets", s.mappingTickets))
}

func (r *Resolver) refuse(fi os.FileInfo, err error) {
	r.refused = fi
	r.reloadErrors.Add(1)
	r.logger.Error("Attribution mapping file not reloaded; the previous mapping stays in use",
		zap.String("file", r.cfg.MappingFile), zap.Error(err))
}
