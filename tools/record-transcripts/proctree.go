package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procTree remembers every process descended from a root process, seen by
// scanning /proc (Linux). The CLI runs shell commands in their own sessions,
// so killing its process group does not reach them; the recorder kills what
// it saw instead.
type procTree struct {
	root int
	seen map[int]string // pid -> start time, to not kill a reused pid
}

func newProcTree(root int) *procTree {
	return &procTree{root: root, seen: map[int]string{}}
}

type procStat struct {
	state string
	ppid  int
	start string
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, starttime field 22
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{state: f[0], ppid: ppid, start: f[19]}, true
}

// scan adds the current descendants of the root.
func (t *procTree) scan() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	children := map[int][]int{}
	stats := map[int]procStat{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	// known processes whose parent died were reparented; keep following
	// them too
	queue := []int{t.root}
	for pid := range t.seen {
		if st, ok := stats[pid]; ok && st.start == t.seen[pid] {
			queue = append(queue, pid)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if _, ok := t.seen[c]; ok {
				continue
			}
			t.seen[c] = stats[c].start
			queue = append(queue, c)
		}
	}
}

// killAll sends SIGKILL to every remembered descendant still alive and
// returns how many there were.
func (t *procTree) killAll() int {
	t.scan()
	n := 0
	for pid, start := range t.seen {
		st, ok := readStat(pid)
		if !ok || st.start != start || st.state == "Z" {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
