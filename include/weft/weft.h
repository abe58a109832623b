// The Weft embedding API: include this, link Weft::weft.
// See docs/EMBEDDING.md.
#pragma once

#include "weft/engine.h"
#include "weft/promise.h"
#include "weft/value.h"
