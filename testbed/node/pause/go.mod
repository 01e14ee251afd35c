module local/flead-testbed-pause

go 1.26.0
