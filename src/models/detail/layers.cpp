#include "models/detail/layers.h"
