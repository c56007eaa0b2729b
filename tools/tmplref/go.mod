module certagent/tools/tmplref

go 1.19
