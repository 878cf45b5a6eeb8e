package surveys

// SetSchedulePage makes Schedule read pages of n deliveries (tests page
// through a few recipients).
func SetSchedulePage(s *Service, n int) { s.schedulePage = n }
