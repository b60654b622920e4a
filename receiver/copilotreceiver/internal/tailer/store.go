package tailer

// Storage keys. A transcript's checkpoint is under its path; the round being
// delivered, when a signal was accepted and another is still to go, under
// roundKey.
const (
	checkpointPrefix = "transcript:"
	sessionPrefix    = "session:"
	roundKey         = "round"
)

const checkpointVersion = 1

// checkpoint is what is stored for one transcript: where reading resumes,
// the fingerprint that tells whether the file at the path is still the same
// file, and whether its session has spans to end when it goes idle. The
// session's accounting state at that offset is stored beside it, under
// sessionPrefix, and read only when the transcript grows.
type checkpoint struct {
	Version int    `json:"v"`
	FPLen   int    `json:"fpLen"`
	FPHash  []byte `json:"fp"`
	Offset  int64  `json:"off"`
	Open    bool   `json:"open,omitempty"`
}

// pendingRound records a round whose delivery was under way: the files it
// read up to which offsets, the sessions it found idle, and the signals the
// pipeline already accepted. On start, the round is read again from the
// committed checkpoints and only the missing signals are delivered, so that
// nothing is sent twice or lost.
type pendingRound struct {
	Files map[string]int64 `json:"files"`
	Idle  []string         `json:"idle,omitempty"`
	Done  []string         `json:"done"`
}
