module peerchat

go 1.26.8
