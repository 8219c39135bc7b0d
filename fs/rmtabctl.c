/* placeholder: written by the rmtabctl work */
int main(void)
{
	return 1;
}
