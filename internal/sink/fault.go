package sink

// fate is what the sink does with one request.
type fate int

const (
	fateAccept fate = iota
	fateFail
	fateHang
)

// fate decides request number seq's fate from one uniform draw: the first
// FailureRate of [0,1) fails, the next TimeoutRate hangs, the rest is
// accepted. The draw is a hash of (Seed, seq) rather than a shared random
// source, so it needs no lock and the same seed gives the same n-th fate.
func (s *Sink) fate(seq uint64) fate {
	if s.cfg.FailureRate == 0 && s.cfg.TimeoutRate == 0 {
		return fateAccept
	}
	u := uniform(uint64(s.cfg.Seed), seq)
	switch {
	case u < s.cfg.FailureRate:
		return fateFail
	case u < s.cfg.FailureRate+s.cfg.TimeoutRate:
		return fateHang
	}
	return fateAccept
}

// uniform maps (seed, n) to a float64 in [0,1) with SplitMix64, whose
// output for consecutive n is statistically well spread.
func uniform(seed, n uint64) float64 {
	z := seed + n*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}
