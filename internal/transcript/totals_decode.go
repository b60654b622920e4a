package transcript

import (
	"encoding/json"
	"fmt"
)

// Decoders of the CLI's accounting (shutdown, checkpoint), in the same
// single pass as the envelope. Members they do not name (provider metrics,
// token details, cache state) are checked and skipped.

func decodeShutdown(m *members, _ Options) (any, error) {
	d := &ShutdownData{Flat: &Totals{}}
	var agents bool
	_, err := pick(m, d, func(d *ShutdownData, key []byte, m *members) error {
		switch string(key) {
		case "shutdownType":
			return sval(m, &d.ShutdownType)
		case "errorReason":
			return sval(m, &d.ErrorReason)
		case "accountingSnapshot", "usageAccountingWatermarks":
			return accountingMember(key, m, &d.Snapshot, &d.Watermarks)
		case "agentMetrics":
			agents = m.isObject()
		}
		if d.Snapshot != nil {
			// The CLI writes its snapshot first; the flat totals after it
			// are the same figures, and Totals would not read them.
			return nil
		}
		return flatMember(d.Flat, key, m)
	})
	if err != nil {
		return nil, err
	}
	if d.Snapshot != nil {
		d.Flat = nil
	}
	d.Cumulative = d.Snapshot != nil || d.Watermarks != nil || agents
	return d, nil
}

func decodeCheckpoint(m *members, _ Options) (any, error) {
	return pick(m, new(CheckpointData), func(d *CheckpointData, key []byte, m *members) error {
		switch string(key) {
		case "totalNanoAiu":
			return count(m, &d.TotalNanoAIU)
		case "accountingSnapshot", "usageAccountingWatermarks":
			return accountingMember(key, m, &d.Snapshot, &d.Watermarks)
		}
		return nil
	})
}

// accountingMember decodes the accountingSnapshot or the accounting
// watermarks that shutdowns and checkpoints both carry.
func accountingMember(key []byte, m *members, snap **Totals, wm *map[string]int64) error {
	if string(key) == "accountingSnapshot" {
		return object(m, func(c *members) error {
			*snap = &Totals{}
			return snapshot(c, *snap)
		})
	}
	return object(m, func(c *members) error {
		*wm = map[string]int64{}
		return counts(c, *wm)
	})
}

// flatMember decodes a member of the totals as a shutdown writes them in
// its data (and as CLIs before 1.0.102 wrote them only).
func flatMember(t *Totals, key []byte, m *members) error {
	switch string(key) {
	case "totalPremiumRequests":
		return amount(m, &t.PremiumRequestCost, &t.HasPremium)
	case "totalNanoAiu":
		return count(m, &t.NanoAIU)
	case "totalApiDurationMs":
		return count(m, &t.APIDurationMs)
	case "codeChanges":
		return object(m, func(c *members) error { return codeChanges(c, &t.CodeChanges) })
	case "modelMetrics":
		return object(m, func(c *members) (err error) {
			t.ModelMetrics, err = modelMetrics(c)
			return err
		})
	case "agentMetrics":
		return object(m, func(c *members) (err error) {
			t.AgentMetrics, err = agentMetrics(c)
			return err
		})
	}
	return nil
}

// snapshot decodes an accountingSnapshot.
func snapshot(c *members, t *Totals) error {
	_, err := pick(c, t, func(t *Totals, key []byte, m *members) error {
		switch string(key) {
		case "totalPremiumRequestCost":
			return amount(m, &t.PremiumRequestCost, &t.HasPremium)
		case "totalUserRequests":
			return count(m, &t.UserRequests)
		}
		return flatMember(t, key, m)
	})
	return err
}

func codeChanges(c *members, cc *CodeChanges) error {
	_, err := pick(c, cc, func(cc *CodeChanges, key []byte, m *members) error {
		switch string(key) {
		case "linesAdded":
			return count(m, &cc.LinesAdded)
		case "linesRemoved":
			return count(m, &cc.LinesRemoved)
		case "filesModifiedCount":
			return count(m, &cc.FilesModifiedCount)
		case "filesModified":
			if v := m.value(); v != nil && string(v) != "null" {
				return jsonStrings(v, &cc.FilesModified)
			}
		}
		return nil
	})
	return err
}

// keyString is a member's key as a string; st may be nil.
func keyString(st *decodeState, raw []byte) (string, error) {
	for _, c := range raw {
		if c == '\\' {
			var s string
			err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s)
			return s, err
		}
	}
	return st.str(raw), nil
}

// counts decodes an object of counts, such as watermarks.
func counts(c *members, out map[string]int64) error {
	for key, ok := c.next(); ok; key, ok = c.next() {
		k, err := keyString(c.st, key)
		if err != nil {
			return err
		}
		var n Int
		if err := count(c, &n); err != nil {
			return fmt.Errorf("member %q: %w", key, err)
		}
		out[k] = n.V
	}
	return c.err
}

// keySet finds the keys of an object met before, which a map decoded from
// it would overwrite: the lists of metrics by model and by agent keep the
// value written last in the entry of the key's first appearance. A few
// keys are searched; past them an index keeps an object of many keys from
// costing quadratic time.
type keySet struct {
	n     int
	few   [16]string
	index map[string]int
}

// add returns the entry of k if it was added before; else it gives k the
// next entry and returns false.
func (s *keySet) add(k string) (int, bool) {
	if s.index == nil {
		for i := range s.n {
			if s.few[i] == k {
				return i, true
			}
		}
		if s.n < len(s.few) {
			s.few[s.n] = k
			s.n++
			return s.n - 1, false
		}
		s.index = make(map[string]int, 2*len(s.few))
		for i, f := range s.few {
			s.index[f] = i
		}
	}
	if i, ok := s.index[k]; ok {
		return i, true
	}
	s.index[k] = s.n
	s.n++
	return s.n - 1, false
}

// keyed decodes an object of entries keyed by name (models, agents) into a
// list of its own length: one entry per key, in the order the keys first
// appear, holding the value written last, as a map decoded from the same
// JSON would. entry decodes the value of one key.
func keyed[T any](c *members, entry func(name string, c *members) (T, error)) ([]T, error) {
	var (
		keys keySet
		buf  [4]T // a shutdown names a few models and agents
		list = buf[:0]
	)
	for key, ok := c.next(); ok; key, ok = c.next() {
		name, err := keyString(c.st, key)
		if err != nil {
			return nil, err
		}
		v, err := entry(name, c)
		if err != nil {
			return nil, err
		}
		if i, met := keys.add(name); met {
			list[i] = v
		} else {
			list = append(list, v)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	return append(make([]T, 0, len(list)), list...), nil
}

// modelMetrics decodes an object of model metrics by model name.
func modelMetrics(c *members) ([]ModelMetric, error) {
	return keyed(c, func(name string, c *members) (ModelMetric, error) {
		mm := ModelMetric{Model: name} // decoding moves it to the heap
		err := object(c, func(mc *members) error { return modelMetric(mc, &mm) })
		return mm, err
	})
}

func modelMetric(c *members, mm *ModelMetric) error {
	_, err := pick(c, mm, func(mm *ModelMetric, key []byte, m *members) error {
		switch string(key) {
		case "requests":
			return object(m, func(rc *members) error {
				_, err := pick(rc, mm, func(mm *ModelMetric, key []byte, m *members) error {
					switch string(key) {
					case "count":
						return count(m, &mm.Requests.Count)
					case "cost":
						var has bool
						return amount(m, &mm.Requests.Cost, &has)
					}
					return nil
				})
				return err
			})
		case "usage":
			return object(m, func(uc *members) error {
				_, err := pick(uc, &mm.Usage, func(u *TokenUsage, key []byte, m *members) error {
					switch string(key) {
					case "inputTokens":
						return count(m, &u.InputTokens)
					case "outputTokens":
						return count(m, &u.OutputTokens)
					case "cacheReadTokens":
						return count(m, &u.CacheReadTokens)
					case "cacheWriteTokens":
						return count(m, &u.CacheWriteTokens)
					case "reasoningTokens":
						return count(m, &u.ReasoningTokens)
					}
					return nil
				})
				return err
			})
		case "totalNanoAiu":
			return count(m, &mm.TotalNanoAIU)
		}
		return nil
	})
	return err
}

// agentMetrics decodes an object of agent metrics by agent id.
func agentMetrics(c *members) ([]AgentMetric, error) {
	return keyed(c, func(id string, c *members) (AgentMetric, error) {
		am := AgentMetric{Agent: id} // decoding moves it to the heap
		err := object(c, func(ac *members) error {
			_, err := pick(ac, &am, func(am *AgentMetric, key []byte, m *members) error {
				switch string(key) {
				case "agentName":
					return sval(m, &am.AgentName)
				case "agentDisplayName":
					return sval(m, &am.AgentDisplayName)
				case "totalApiDurationMs":
					return count(m, &am.TotalAPIDuration)
				case "totalNanoAiu":
					return count(m, &am.TotalNanoAIU)
				case "modelMetrics":
					return object(m, func(mc *members) (err error) {
						am.ModelMetrics, err = modelMetrics(mc)
						return err
					})
				}
				return nil
			})
			return err
		})
		return am, err
	})
}
