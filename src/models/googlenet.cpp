#include "xfer/models/googlenet.h"
