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
	// TailLen bytes before Offset hash to TailHash: a file rewritten in
	// place before Offset is read again from its start.
	TailLen  int    `json:"tailLen,omitempty"`
	TailHash []byte `json:"tail,omitempty"`
}

// pendingRound records a round before its delivery begins: the files it
// read up to which offsets, the sessions it found idle, its read window, and
// the signals the pipeline already accepted. On start, the round is read
// again from the committed checkpoints and only the missing signals are
// delivered, with the same content and ids, so that nothing is lost and
// only the batch in flight at a crash is sent twice, identically.
type pendingRound struct {
	Files     map[string]int64 `json:"files"`
	Idle      []string         `json:"idle,omitempty"`
	Done      []string         `json:"done"`
	ReadStart int64            `json:"readStart,omitempty"` // unix ns
	ReadEnd   int64            `json:"readEnd,omitempty"`
}
