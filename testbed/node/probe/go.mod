module local/flead-testbed-probe

go 1.26.0
