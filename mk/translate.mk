# migrate translate (issue 4): demo on the bundled snapshot, the 10,000-policy benchmark, golden regeneration.
.PHONY: demo-translate bench-translate golden-translate

demo-translate: build
	./bin/migrate translate --snapshot fixtures/online-shop/snapshot --out plans/online-shop

bench-translate: build
	node dist/bench/translate.js 10000

# Regenerate fixtures/translate/*/expected*.{yaml,json}; review the diff before committing.
golden-translate: build
	UPDATE_GOLDEN=1 node --test dist/test/unit/translate-golden.test.js

DEMO_TARGETS += demo-translate
