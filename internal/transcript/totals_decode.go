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
		return flatMember(d.Flat, key, m)
	})
	if err != nil {
		return nil, err
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
		return object(m, func(c *members) error {
			t.ModelMetrics = map[string]ModelMetric{}
			return modelMetrics(c, t.ModelMetrics)
		})
	case "agentMetrics":
		return object(m, func(c *members) error {
			t.AgentMetrics = map[string]AgentMetric{}
			return agentMetrics(c, t.AgentMetrics)
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

func modelMetrics(c *members, out map[string]ModelMetric) error {
	for key, ok := c.next(); ok; key, ok = c.next() {
		name, err := keyString(c.st, key)
		if err != nil {
			return err
		}
		var mm ModelMetric
		if err := object(c, func(mc *members) error { return modelMetric(mc, &mm) }); err != nil {
			return err
		}
		out[name] = mm
	}
	return c.err
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

func agentMetrics(c *members, out map[string]AgentMetric) error {
	for key, ok := c.next(); ok; key, ok = c.next() {
		id, err := keyString(c.st, key)
		if err != nil {
			return err
		}
		var am AgentMetric
		err = object(c, func(ac *members) error {
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
					return object(m, func(mc *members) error {
						am.ModelMetrics = map[string]ModelMetric{}
						return modelMetrics(mc, am.ModelMetrics)
					})
				}
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
		out[id] = am
	}
	return c.err
}
